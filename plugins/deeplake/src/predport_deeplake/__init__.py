"""predport plugin for Deep Lake 4.x datasets (format id ``deeplake``)."""
