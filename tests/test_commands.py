"""The ``register_commands`` hook: plugins add subcommands; a broken one is reported and skipped."""
from __future__ import annotations

import types

import pytest

import predport
from predport.cli import main


def command_plugin(name: str = "hello", *, fail: bool = False, code: int | None = 0) -> types.SimpleNamespace:
    """A plugin adding one subcommand that prints its argument (or raising while it registers)."""
    calls: list[str] = []

    @predport.hookimpl
    def register_commands(commands):
        parser = commands.add(name, help=f"say {name}", run=run)
        parser.add_argument("who")
        parser.add_argument("--bad", action="store_true")
        if fail:
            raise RuntimeError("registration broke")

    def run(args):
        calls.append(args.who)
        if args.bad:
            raise predport.ParseError("bad input", file=args.who, field="who")
        print(f"{name} {args.who}")
        return code

    return types.SimpleNamespace(register_commands=register_commands, calls=calls)


@pytest.fixture
def bare_hub(monkeypatch):
    """A process-wide hub without the installed plugins (their commands would mix in)."""
    monkeypatch.delenv("PREDPORT_STRICT", raising=False)
    new = predport.Hub(load_entry_points=False)
    old = predport.reset_hub(new)
    yield new
    predport.reset_hub(old)


def test_commands__plugin_command_is_listed_in_help_and_runs(hub, capsys):
    plugin = command_plugin()
    hub.register(plugin, name="greeter")
    with pytest.raises(SystemExit):
        predport.cli.build_parser(hub.commands(taken=predport.cli.COMMANDS)).parse_args(["--help"])
    out = capsys.readouterr().out
    assert "hello" in out and "say hello" in out and "convert" in out
    assert main(["hello", "world"]) == 0
    assert plugin.calls == ["world"] and capsys.readouterr().out.strip() == "hello world"


def test_commands__run_returning_a_code_is_the_exit_code(hub, capsys):
    hub.register(command_plugin(code=4), name="greeter")
    assert main(["hello", "x"]) == 4


def test_commands__predport_error_in_a_command_exits_1_without_traceback(hub, capsys):
    hub.register(command_plugin(), name="greeter")
    assert main(["hello", "f.txt", "--bad"]) == 1
    err = capsys.readouterr().err
    assert "bad input" in err and "f.txt" in err and "Traceback" not in err


def test_commands__failing_registration_is_reported_and_skipped(hub, capsys):
    hub.register(command_plugin("broken", fail=True), name="breaker")
    hub.register(command_plugin("fine"), name="greeter")
    assert main(["--help"]) == 0
    captured = capsys.readouterr()
    assert "fine" in captured.out and "broken" not in captured.out
    assert "registration broke" in captured.err and "breaker" in captured.err
    record = hub.records["breaker"]
    assert record.status == "degraded" and any("registration broke" in r for r in record.reasons)
    assert main(["broken", "x"]) == 2  # not a command: argparse's usage error
    assert main(["fine", "x"]) == 0


def test_commands__a_taken_name_is_reported_and_skipped(bare_hub, capsys):
    hub = bare_hub
    hub.register(command_plugin("convert"), name="hijacker")
    hub.register(command_plugin("hello"), name="first")
    hub.register(command_plugin("hello"), name="second")
    mine = {hub.label(n) for n in ("hijacker", "first", "second")}  # installed plugins add commands too
    names = [c.name for c in hub.commands(taken=predport.cli.COMMANDS) if c.plugin in mine]
    assert names == ["hello"]
    assert any("'convert' is already taken" in r for r in hub.records["hijacker"].reasons)
    assert any("'hello' is already taken" in r for r in hub.records["second"].reasons)


def test_commands__bad_command_name_fails_the_registration(bare_hub):
    hub = bare_hub
    @predport.hookimpl
    def register_commands(commands):
        commands.add("Bad Name", help="x", run=lambda args: 0)

    hub.register(types.SimpleNamespace(register_commands=register_commands), name="badname")
    assert [c for c in hub.commands() if c.plugin == hub.label("badname")] == []
    assert any("must be lower case" in r for r in hub.records["badname"].reasons)


def test_commands__plugins_listing_shows_a_broken_registration(hub, capsys):
    hub.register(command_plugin("broken", fail=True), name="breaker")
    assert main(["plugins"]) == 0
    line = next(ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("breaker"))
    assert "degraded" in line and "registration broke" in line


def test_commands__a_conversion_does_not_call_the_hook(hub, tmp_path, small_set):
    seen = []

    @predport.hookimpl
    def register_commands(commands):
        seen.append(True)

    hub.register(types.SimpleNamespace(register_commands=register_commands), name="spy")
    src = tmp_path / "in.json"
    predport.save(small_set, src)
    assert main(["convert", str(src), str(tmp_path / "out.json"), "-q"]) == 0
    assert seen == []
    main(["--help"])
    assert seen == [True]
