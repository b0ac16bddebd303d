"""predport-csvboxes: boxes in a CSV file (``image,class,x,y,w,h,score``), read and write."""

__version__ = "0.1.0"
