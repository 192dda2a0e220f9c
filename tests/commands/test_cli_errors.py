"""Whatever goes wrong inside a command, the user gets one line on stderr."""

import warnings

import pytest

from siamesekit import cli
from siamesekit.commands import arguments
from siamesekit.errors import ImageError

# Runs once, under TensorFlow: argument handling.
pytestmark = pytest.mark.backend_neutral


def fail_with(error):
    def run(args):
        raise error

    return run


def test_siamesekit_errors_are_one_line_with_status_2(monkeypatch, capsys):
    error = ImageError("image 2: 'x.tif' has 2 lines\nof message;   fix it")
    monkeypatch.setattr("siamesekit.commands.demo.run", fail_with(error))
    assert cli.main(["demo", "--out", "d"]) == 2
    assert capsys.readouterr().err == (
        "siamesekit demo: error: image 2: 'x.tif' has 2 lines of message; fix it\n"
    )


def test_an_unexpected_exception_is_one_line_with_status_1(monkeypatch, capsys):
    error = ZeroDivisionError("division by zero\n  in the head")
    monkeypatch.setattr("siamesekit.commands.demo.run", fail_with(error))
    assert cli.main(["demo", "--out", "d"]) == 1
    assert capsys.readouterr().err == (
        "siamesekit demo: internal error: ZeroDivisionError: division by zero in "
        "the head (a bug in siamesekit: run again with --debug for the traceback, "
        "and please report it)\n"
    )


@pytest.mark.parametrize("switch", ["option", "variable"])
def test_debug_keeps_the_traceback(monkeypatch, switch):
    monkeypatch.setattr(
        "siamesekit.commands.demo.run", fail_with(ZeroDivisionError("bug"))
    )
    argv = ["demo", "--out", "d"]
    if switch == "option":
        argv.append("--debug")
    else:
        monkeypatch.setenv("SIAMESEKIT_DEBUG", "1")
    with pytest.raises(ZeroDivisionError, match="bug"):
        cli.main(argv)


def test_running_out_of_memory_is_a_one_line_error(monkeypatch, capsys):
    # TensorFlow's class, by name, as the CLI recognises it.
    ResourceExhaustedError = type("ResourceExhaustedError", (Exception,), {})
    error = ResourceExhaustedError("OOM when allocating tensor\nwith shape")
    monkeypatch.setattr("siamesekit.commands.demo.run", fail_with(error))
    assert cli.main(["demo", "--out", "d"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(
        "siamesekit demo: error: out of memory (ResourceExhaustedError: OOM when "
        "allocating tensor with shape); use a smaller --input-size"
    )
    assert err.count("\n") == 1


def test_warnings_are_one_line(monkeypatch, capsys):
    def run(args):
        warnings.warn("this input\nlooks odd", UserWarning)
        return 0

    monkeypatch.setattr("siamesekit.commands.demo.run", run)
    assert cli.main(["demo", "--out", "d"]) == 0
    assert capsys.readouterr().err == (
        "siamesekit demo: warning: UserWarning: this input looks odd\n"
    )


@pytest.mark.parametrize(
    "argv, message",
    [
        (["train", "d", "--out", "m.keras", "--epochs", "0"], "--epochs: must be a"),
        (["train", "d", "--out", "m.keras", "--size", "0", "9"], "Received: 0"),
        (["train", "d", "--out", "m.keras", "--validation", "1.5"], "between 0 and 1"),
        (["evaluate", "m.keras", "d", "--max-pairs", "-1"], "Received: -1"),
        (["demo", "--out", "d", "--epochs", "x"], "integer. Received: 'x'"),
        (["compare", "a", "b", "--method", "nope"], "invalid choice: 'nope'"),
    ],
)
def test_usage_errors_are_one_line(capsys, argv, message):
    with pytest.raises(SystemExit) as exit:
        cli.main(argv)
    assert exit.value.code == 2
    err = capsys.readouterr().err
    command = argv[0]
    assert err.startswith(f"siamesekit {command}: error: argument ")
    assert err.endswith(f" (see siamesekit {command} --help)\n")
    assert message in err and err.count("\n") == 1


def test_argument_types():
    assert arguments.positive_int("3") == 3
    assert arguments.image_side(str(arguments.MAX_INPUT_SIDE)) == 2048
    assert arguments.fraction("0.25") == 0.25
    for parse, text in [
        (arguments.positive_int, "0"),
        (arguments.image_side, "2049"),
        (arguments.fraction, "0"),
        (arguments.fraction, "1"),
    ]:
        with pytest.raises(Exception, match="Received"):
            parse(text)


def test_one_line():
    assert arguments.one_line("a\n  b\tc ") == "a b c"
    assert arguments.one_line("x" * 10, limit=6) == "xxx..."
