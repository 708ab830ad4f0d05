"""`gankit train MODEL`."""

from __future__ import annotations

import click
from click.core import ParameterSource

from .. import console
from ..options import flag_fields


def _option(f) -> click.Option:
    """The click option of a TrainOptions field, from its metadata (gankit.options.flag)."""
    md = f.metadata
    decls = [md["flag"] + (f"/{md['secondary']}" if md["secondary"] else ""), f.name]
    kw: dict = {"help": md["help"] or None, "show_default": md["show_default"]}
    if md["is_flag"]:
        kw["is_flag"] = True
    elif md["multiple"]:
        kw["multiple"] = True
    elif md["secondary"]:
        kw["default"] = f.default
    else:
        kw["default"] = f.default
        kw["type"] = click.Choice(list(md["choices"])) if md["choices"] else md["type"]
    if md["metavar"]:
        kw["metavar"] = md["metavar"]
    return click.Option(decls, **kw)


def _options(command):
    """Every TrainOptions flag, in field order, with the hand-made ones in their places:
    --beta1/--beta2 after --lr, --download/--no-cache after --grayscale."""
    after = {
        "lr": [click.Option(["--beta1"], type=float, help="Adam beta1."),
               click.Option(["--beta2"], type=float, help="Adam beta2.")],
        "grayscale": [click.Option(["--download"], is_flag=True,
                                   help="Let mnist/fashion-mnist/cifar10 download files."),
                      click.Option(["--no-cache"], is_flag=True,
                                   help="Do not read or write the decoded-image cache.")],
    }
    for f in reversed(flag_fields()):
        for opt in reversed(after.get(f.name, [])):
            command.__click_params__.append(opt)
        command.__click_params__.append(_option(f))
    return command


@click.command("train")
@click.argument("model", required=False, default="dcgan")
@_options
@click.option("--resume", type=str, help="Continue a run folder or checkpoint file.")
@click.option("--override", is_flag=True, help="With --resume: allow flags that change the run.")
@click.option("--set", "sets", multiple=True, metavar="KEY=VALUE",
              help="Model option (gankit list-models --options), or data.KEY=VALUE for the "
                   "data set's own (gankit list-datasets --options); repeatable.")
@click.pass_context
def train(ctx, model, beta1, beta2, download, no_cache, resume, override, sets, **flags):
    """Train MODEL (default dcgan) on --data, --dataset or the built-in sushi set.

    Runs go to RUNS/MODEL-TIMESTAMP/ with config.json, metrics.jsonl, samples/ and
    checkpoints/. Ctrl-C writes a checkpoint; --resume RUN continues it.
    """
    from ..config import parse_sets
    from ..train import Interrupted, Trainer, TrainOptions, plan

    fields = {f.name for f in flag_fields()}
    explicit = {
        p for p in ctx.params if ctx.get_parameter_source(p) == ParameterSource.COMMANDLINE
    }
    if "model" not in explicit and ctx.get_parameter_source("model") != ParameterSource.DEFAULT:
        explicit.add("model")
    betas = None
    if beta1 is not None or beta2 is not None:
        betas = (beta1 if beta1 is not None else 0.5, beta2 if beta2 is not None else 0.999)
        explicit.add("betas")
    model_flags = {k: v for k, v in flags.items() if k not in fields}
    extra = {"download": download, "cache": not no_cache,
             **{k: v for k, v in model_flags.items() if v is not None}}
    opts = TrainOptions(model=model, betas=betas, extra=extra,
                        **{k: v for k, v in flags.items() if k in fields})
    if resume and "model" not in explicit:
        opts.model = None
    run_plan = plan(opts, sets=parse_sets(sets), explicit=explicit, resume=resume,
                    override=override)
    for note in run_plan.notes:
        console.info(note)
    trainer = Trainer.from_plan(run_plan)
    o = trainer.options
    console.info(
        f"training {trainer.model.name} on {trainer.spec.name or 'data'} "
        f"({len(trainer.data)} samples, {'x'.join(map(str, trainer.spec.shape))}) "
        f"for {trainer.total_steps} steps, batch {o.batch_size}, {trainer.device} "
        f"{trainer.precision} -> {trainer.run_dir}"
    )
    try:
        trainer.fit()
    except Interrupted as exc:
        console.info(f"interrupted at step {exc.step}; checkpoint {exc.path}")
        console.info(f"continue with: gankit train --resume {trainer.run_dir}")
        ctx.exit(exc.exit_code)
    if o.timelapse:
        try:
            from ..timelapse import write_timelapse
        except ImportError:
            write_timelapse = None
        if write_timelapse is not None:
            write_timelapse(trainer.run_dir)
    console.info(f"done: {trainer.run_dir} (samples/, checkpoints/)")


class _TrainCommand(click.Command):
    """``train`` with the flags that installed models declare for themselves, collected
    when the command is parsed or its help shown (not when the CLI is built)."""

    plugins = None

    def get_params(self, ctx):
        params = super().get_params(ctx)
        core = {o for p in params for o in p.opts}
        declared: dict = {}  # flag name -> (Flag, model names)
        for model in self.plugins.models():
            for flag in model.train_flags:
                if flag.name not in core:
                    declared.setdefault(flag.name, (flag, []))[1].append(model.name)
        extra = [click.Option([flag.name, flag.dest], type=flag.type,
                              help=f"{flag.help} ({', '.join(models)})")
                 for flag, models in declared.values()]
        return params[:-1] + extra + params[-1:]  # --help stays last


def make_command(plugins) -> click.Command:
    cmd = _TrainCommand(name=train.name, callback=train.callback, params=list(train.params),
                        help=train.help, context_settings=train.context_settings)
    cmd.plugins = plugins
    return cmd


COMMANDS = [train]
