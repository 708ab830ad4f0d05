"""The ``gankit`` command line: a root group, an error boundary, and plugin commands."""

from __future__ import annotations

import sys

import click

from .. import __version__, console
from ..errors import GankitError


class GankitGroup(click.Group):
    """Runs every command inside gankit's error boundary: a known error is one line on
    stderr and a non-zero exit; anything else is one line too unless --debug."""

    GLOBAL_FLAGS = {"--quiet": console.set_quiet, "-q": console.set_quiet,
                    "--debug": console.set_debug}

    def parse_args(self, ctx, args):
        # --quiet and --debug work before or after the command name
        rest, seen_sep = [], False
        for a in args:
            if a == "--":
                seen_sep = True
            if not seen_sep and a in self.GLOBAL_FLAGS:
                self.GLOBAL_FLAGS[a](True)
                continue
            rest.append(a)
        return super().parse_args(ctx, rest)

    #: plugin commands by qualified name (``PLUGIN:NAME``); bare names two installed
    #: plugins register (refused, with their qualified names)
    qualified: dict = {}
    ambiguous: dict = {}

    def get_command(self, ctx, cmd_name):
        cmd = super().get_command(ctx, cmd_name)
        if cmd is not None:
            return cmd
        if cmd_name in self.qualified:
            return self.qualified[cmd_name]
        if cmd_name in self.ambiguous:
            from ..registry import AmbiguousNameError

            raise AmbiguousNameError("command", cmd_name, self.ambiguous[cmd_name])
        return None

    def list_commands(self, ctx):
        # plugin commands that lost their bare name are listed by their qualified name
        hidden = [q for q, c in self.qualified.items() if q not in self._reachable]
        return [*super().list_commands(ctx), *sorted(hidden)]

    @property
    def _reachable(self) -> set:
        return {f"{getattr(c, 'gankit_plugin', '')}:{n}" for n, c in self.commands.items()}

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except GankitError as exc:
            if console.is_debug():
                raise
            console.error(str(exc))
            sys.exit(exc.exit_code)
        except click.UsageError as exc:  # click's own parsing errors: one line as well
            if console.is_debug():
                raise
            path = " ".join(["gankit", *(exc.ctx.command_path.split()[1:] if exc.ctx else [])])
            console.error(f"{exc.format_message().rstrip('.')} (see {path} --help)")
            sys.exit(exc.exit_code)
        except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException):
            raise
        except KeyboardInterrupt:
            if console.is_debug():
                raise
            console.error("interrupted")
            sys.exit(130)
        except MemoryError:
            if console.is_debug():
                raise
            console.error("out of memory; try a smaller --batch-size or --image-size")
            sys.exit(1)
        except OSError as exc:
            if console.is_debug():
                raise
            where = f"{exc.filename}: " if getattr(exc, "filename", None) else ""
            console.error(f"{where}{exc.strerror or exc}")
            sys.exit(1)
        except Exception as exc:  # noqa: BLE001
            if console.is_debug():
                raise
            console.error(f"{type(exc).__name__}: {exc} (rerun with --debug for the traceback)")
            sys.exit(1)


def make_cli(plugins=None) -> click.Group:
    """A fresh root group with the core commands and every plugin's commands."""

    @click.group(cls=GankitGroup, context_settings={"help_option_names": ["-h", "--help"]})
    @click.version_option(__version__, "--version", prog_name="gankit")
    # --debug and --quiet are taken by GankitGroup.parse_args wherever they stand on the
    # line; declared here for --help only
    @click.option("--debug", is_flag=True, expose_value=False, help="Show tracebacks.")
    @click.option("-q", "--quiet", is_flag=True, expose_value=False,
                  help="No progress bars or status lines.")
    def cli():
        """gankit: train and play with generative adversarial networks.

        \b
        Quick start:
          gankit train dcgan --steps 600          # the built-in sushi data set
          gankit sample --seeds 0-63              # from the newest run under ./runs
          gankit list-models
        """

    from . import train

    from ..plugins import get_plugins

    plugins_to_use = plugins or get_plugins()
    cli.add_command(train.make_command(plugins_to_use))
    for mod in _core_modules():
        for cmd in mod.COMMANDS:
            cli.add_command(cmd)
    core = set(cli.commands)

    cli.qualified, cli.ambiguous = {}, {}
    table = plugins_to_use.command_table(plugins_to_use.commands(), core)
    for plugin, name, cmd, status in table:
        cli.qualified[status["qualified"]] = cmd
        if status["shadowed_by"] == "gankit":
            console.warn(f"command '{name}' from plugin '{plugin}' clashes with gankit's own; "
                         f"run it as `gankit {plugin}:{name}`")
        elif status["ambiguous"]:
            cli.ambiguous.setdefault(name, []).append(status["qualified"])
        elif status["shadowed_by"] is None:
            cmd.gankit_plugin = plugin
            cli.add_command(cmd, name)
    for name, qualified in cli.ambiguous.items():
        console.warn(f"command '{name}' is registered by plugins "
                     f"{', '.join(repr(q.rpartition(':')[0]) for q in qualified)}; the bare "
                     f"name is refused: use {' or '.join(repr(q) for q in qualified)}")
    return cli


def _core_modules():
    from . import (data, datasets_cmd, direction, docs_cmd, evaluate, export, interpolate,
                   listing, new_plugin, project, runs_cmd, sample, studio, timelapse, translate)

    return (sample, evaluate, listing, datasets_cmd, data, interpolate, timelapse,
            direction, new_plugin, docs_cmd, translate, studio, runs_cmd, export, project)


def core_command_names() -> set:
    """The names of gankit's own commands (a plugin command never takes one)."""
    return {"train"} | {c.name for mod in _core_modules() for c in mod.COMMANDS}


def main(argv=None):
    if "--debug" in (argv or sys.argv[1:]):
        console.set_debug(True)
    try:
        cli = make_cli()
    except GankitError as exc:
        console.error(str(exc))
        sys.exit(exc.exit_code)
    return cli.main(args=argv, prog_name="gankit")
