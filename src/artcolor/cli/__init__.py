"""The `artcolor` command: a thin shell over the library. Each subcommand lives in its own module,
imported only when it runs, so `artcolor --help` stays fast and optional extras stay optional."""

from __future__ import annotations

import importlib
import importlib.util
import os

import click

from .. import __version__

COMMANDS = {
    "colorize": "Colourise photos, files or folders, with a reference, a palette or automatically.",
    "train": "Train a model.",
    "train-auto": "Train a model's automatic decoder on its frozen encoder.",
    "evaluate": "Measure a model or a baseline on photos and paintings.",
    "demo": "Start the web app.",
    "export": "Export a model to ONNX.",
}


class LazyGroup(click.Group):
    def list_commands(self, ctx):
        return [name for name in COMMANDS if importlib.util.find_spec(_module(name))]

    def format_commands(self, ctx, formatter):
        # the one-line descriptions above, so `--help` imports no subcommand (and no torch)
        with formatter.section("Commands"):
            formatter.write_dl([(name, COMMANDS[name]) for name in self.list_commands(ctx)])

    def get_command(self, ctx, name):
        if name not in COMMANDS or importlib.util.find_spec(_module(name)) is None:
            return None
        return importlib.import_module(_module(name)).command


def _module(command: str) -> str:
    return "artcolor.cli." + command.replace("-", "_")


WEIGHTS_HELP = "Model folder, or hf://ORG/NAME[@REVISION] from the Hugging Face Hub (default: bundled)."

# torch's OpenMP threads spin while they wait; on a busy laptop that costs more than it saves
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="artcolor")
def main():
    """artcolor: colourise grayscale photos in the palette of any reference image."""


def fail(message: str) -> None:
    """Report a user-facing error without a traceback and exit 1."""
    click.echo(f"artcolor: error: {message}", err=True)
    raise SystemExit(1)
