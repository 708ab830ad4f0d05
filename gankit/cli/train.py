"""`gankit train MODEL`."""

from __future__ import annotations

import click
from click.core import ParameterSource

from .. import console

# flag name -> TrainOptions field, for those whose names differ
_FIELD: dict = {}


@click.command("train")
@click.argument("model", required=False, default="dcgan")
@click.option("--data", type=str, help="A folder of images (or the files a --dataset reads).")
@click.option("--dataset", type=str, help="A registered data set (gankit list-datasets); default sushi.")
@click.option("--image-size", type=int, help="Side of the square images (default: the data's).")
@click.option("--batch-size", type=int, help="Samples per step (clamped to the data size).")
@click.option("--steps", type=int, help="Total steps to train to (also when resuming).")
@click.option("--epochs", type=float, help="Train this many passes over the data instead of --steps.")
@click.option("--lr", type=float, help="Learning rate (default: the model's or the loss's).")
@click.option("--beta1", type=float, help="Adam beta1.")
@click.option("--beta2", type=float, help="Adam beta2.")
@click.option("--loss", type=str, help="Adversarial loss (gankit list-losses).")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda[:N] or mps.")
@click.option("--precision", default="auto", show_default=True,
              type=click.Choice(["auto", "fp32", "bf16", "fp16"]),
              help="auto: bf16 on CUDA (fp16 without bf16) and for conv nets on CPUs with "
                   "native bf16 (AVX512-BF16/AMX); fp32 elsewhere.")
@click.option("--out", default="runs", show_default=True, help="Folder that holds runs.")
@click.option("--name", type=str, help="Run folder name (default MODEL-TIMESTAMP).")
@click.option("--sample-every", type=int, default=250, show_default=True)
@click.option("--checkpoint-every", type=int, default=500, show_default=True)
@click.option("--keep-last", type=int, default=5, show_default=True, help="0 keeps every checkpoint.")
@click.option("--log-every", type=int, default=25, show_default=True)
@click.option("--grid", type=int, default=64, show_default=True, help="Samples in the progress grid.")
@click.option("--flip/--no-flip", default=None,
              help="Random horizontal flips [default: on, unless the data set says mirrored "
                   "images mean something else or a folder looks like text or digits].")
@click.option("--grayscale", type=click.Choice(["auto", "always", "never"]), default="auto",
              show_default=True)
@click.option("--download", is_flag=True, help="Let mnist/fashion-mnist/cifar10 download files.")
@click.option("--no-cache", is_flag=True, help="Do not read or write the decoded-image cache.")
@click.option("--compile", "compile_", is_flag=True,
              help="torch.compile the networks; the first step compiles (about a minute on "
                   "a CPU), so it pays only in long runs (docs/performance.md).")
@click.option("--timelapse", is_flag=True, help="Write a GIF of the sample grids at the end.")
@click.option("--log", "log", multiple=True, metavar="NAME",
              help="Switch on a logging plugin for this run, e.g. tensorboard; repeatable.")
@click.option("--ema", type=float, metavar="KIMG",
              help="EMA generator half-life in thousands of images [default: 10 for "
                   "unconditional models]; 0 turns it off. Samples come from the EMA copy.")
@click.option("--augment", type=str, metavar="POLICY",
              help="Differentiable augmentation before D: color,translation,cutout (any of "
                   "them) or none [default: all three below 5,000 images, else none].")
@click.option("--augment-p", type=float, help="Probability of each augmentation [default: 1; "
                                               "with --ada-target it starts at 0 and adapts].")
@click.option("--ada-target", type=float,
              help="Adapt the augmentation probability so that E[sign(D(real))] stays at "
                   "this value (StyleGAN2-ADA: 0.6).")
@click.option("--max-retries", type=int, default=3, show_default=True,
              help="Divergence guard: restores of the last good checkpoint (each halving the "
                   "learning rate) before giving up.")
@click.option("--resume", type=str, help="Continue a run folder or checkpoint file.")
@click.option("--override", is_flag=True, help="With --resume: allow flags that change the run.")
@click.option("--set", "sets", multiple=True, metavar="KEY=VALUE",
              help="Model option (gankit list-models --options), or data.KEY=VALUE for the "
                   "data set's own (gankit list-datasets --options); repeatable.")
@click.pass_context
def train(ctx, model, data, dataset, image_size, batch_size, steps, epochs, lr, beta1,
          beta2, loss, seed, device, precision, out, name, sample_every, checkpoint_every,
          keep_last, log_every, grid, flip, grayscale, download, no_cache,
          compile_, timelapse, log, ema, augment, augment_p, ada_target, max_retries, resume,
          override, sets, **model_flags):
    """Train MODEL (default dcgan) on --data, --dataset or the built-in sushi set.

    Runs go to RUNS/MODEL-TIMESTAMP/ with config.json, metrics.jsonl, samples/ and
    checkpoints/. Ctrl-C writes a checkpoint; --resume RUN continues it.
    """
    from ..config import parse_sets
    from ..train import Interrupted, Trainer, TrainOptions, plan

    explicit = {
        _FIELD.get(p, p) for p in ctx.params
        if ctx.get_parameter_source(p) == ParameterSource.COMMANDLINE
    }
    if "model" not in explicit and ctx.get_parameter_source("model") != ParameterSource.DEFAULT:
        explicit.add("model")
    betas = None
    if beta1 is not None or beta2 is not None:
        betas = (beta1 if beta1 is not None else 0.5, beta2 if beta2 is not None else 0.999)
        explicit.add("betas")
    extra = {"download": download, "cache": not no_cache,
             **{k: v for k, v in model_flags.items() if v is not None}}
    opts = TrainOptions(
        model=model, dataset=dataset, data=data, image_size=image_size,
        batch_size=batch_size, steps=steps, epochs=epochs, lr=lr, betas=betas, loss=loss,
        seed=seed, device=device, precision=precision, out=out, name=name,
        sample_every=sample_every, checkpoint_every=checkpoint_every, keep_last=keep_last,
        log_every=log_every, grid=grid, flip=flip, grayscale=grayscale,
        compile=compile_, timelapse=timelapse, max_retries=max_retries, log=tuple(log),
        ema=ema, augment=augment, augment_p=augment_p, ada_target=ada_target,
        extra=extra,
    )
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
