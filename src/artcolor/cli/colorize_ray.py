"""`artcolor colorize --engine ray`: the same command on a Ray cluster (`artcolor.cluster`), for
collections past one machine: inputs and outputs in folders or buckets, a manifest, resumable."""

from __future__ import annotations

import logging
import sys

import click
from click.core import ParameterSource

from . import fail

ENGINE_HELP = "local: this process (and torchrun); ray: Ray Data workers, here or on a cluster (the ray extra)."
RAY_ONLY = ("ray_address", "num_cpus", "num_gpus", "batch_size")
LOCAL_ONLY = ("method", "codec", "crf", "preset", "tune")  # the baselines and videos run on the local engine


def options(command):
    """The Ray engine's flags, on `artcolor colorize`."""
    flags = [
        click.option("--engine", default="local", show_default=True, type=click.Choice(["local", "ray"]),
                     help=ENGINE_HELP),
        click.option("--ray-address", default=None, metavar="ADDR",
                     help="Ray: a running cluster (HOST:PORT or auto); default: start Ray here."),
        click.option("--num-cpus", default=1.0, show_default=True, type=click.FloatRange(0, min_open=True),
                     help="Ray: CPUs each worker takes (its PyTorch threads)."),
        click.option("--num-gpus", default=0.0, show_default=True, type=click.FloatRange(0),
                     help="Ray: GPUs each worker takes (fractions share one)."),
        click.option("--batch-size", default=4, show_default=True, type=click.IntRange(1, 1024),
                     help="Ray: files handed to a worker at a time (it holds one decoded file at a time)."),
    ]
    for flag in reversed(flags):
        command = flag(command)
    return command


def check_flags(ctx: click.Context, engine: str) -> None:
    """A flag of the other engine, given explicitly, is a usage error naming it."""
    other = LOCAL_ONLY if engine == "ray" else RAY_ONLY
    for name in other:
        if ctx.get_parameter_source(name) not in (ParameterSource.DEFAULT, None):
            flag = "--" + name.replace("_", "-")
            raise click.UsageError(f"{flag} applies to --engine {'local' if engine == 'ray' else 'ray'}, "
                                   f"not --engine {engine}")


def run(ctx: click.Context, request) -> None:
    """Colourise a `ColorizeRequest` on Ray with the command's Ray flags, report each failure as it
    comes, print the summary; exit 1 if any file failed."""
    try:
        from ..cluster import colorize_on_ray
        from ..cluster.engine import import_ray

        import_ray()
    except ImportError as e:
        fail(str(e))
    from ..inference.request import RequestError

    logging.getLogger("ray.data").setLevel(logging.WARNING)  # the bar below says how far it is
    flags = ctx.params
    workers = flags["workers"] if ctx.get_parameter_source("workers") != ParameterSource.DEFAULT else None
    try:
        result = colorize_on_ray(request, address=flags["ray_address"], num_cpus=flags["num_cpus"],
                                 num_gpus=flags["num_gpus"], workers=workers, batch_size=flags["batch_size"],
                                 report=_report)
    except RequestError as e:
        raise click.UsageError(str(e)) from None
    except (FileNotFoundError, ValueError, ImportError) as e:  # ImportError: the onnx extra, named
        fail(str(e))
    except ray_error() as e:  # the job itself stopped (a worker that cannot start, the cluster lost)
        fail(f"the Ray job stopped: {e}")
    click.echo(f"{result.done} colourised, {result.failed} failed, {result.skipped} skipped "
               f"(exists; --overwrite replaces) -> {request.output}")
    click.echo(f"manifest: {result.manifest}; Ray start-up {result.startup_s:.1f} s, run {result.run_s:.1f} s")
    raise SystemExit(1 if result.failed else 0)


def ray_error() -> type[Exception]:
    from ray.exceptions import RayError

    return RayError


def _report(src: str, reason: str) -> None:
    from tqdm import tqdm

    tqdm.write(f"artcolor: skipped {reason}", file=sys.stderr)  # as the local engine words it
