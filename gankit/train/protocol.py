"""What models and hooks may use of the trainer: the one list, documented in
docs/plugins.md ("The trainer's public names") and checked by tests/package/test_public_api.py
against a real trainer, the documentation and the built-in plugins.

Everything else on a :class:`~gankit.train.Trainer` is private to gankit and may change
between releases. A model's ``train_step``, ``preview`` and ``setup`` and every hook see
the same trainer; the attributes are read-only for all of them.
"""

from __future__ import annotations

#: attributes models and hooks may read: name -> what it holds
READ = {
    "run_dir": "the run folder, a Path (config.json, metrics.jsonl, samples/, checkpoints/)",
    "model": "the GANModel being trained",
    "config": "the model's Config",
    "options": "the run's TrainOptions",
    "spec": "the main data's DataSpec",
    "data": "the main data (a Data)",
    "data_domains": "every data domain by name, the main data first ({\"A\": Data, ...})",
    "data_b": "the second domain's Data (translation models), or None",
    "loss": "the Loss, or None for a model with its own",
    "nets": "the networks by name (torch modules)",
    "opts": "the optimizers, keyed like the networks",
    "eval_nets": "the networks to sample with: the EMA copies in place of the generators",
    "fixed_noise": "the preview grid's inputs, drawn once per run, or None",
    "run_state": "the RunState the model's setup() returned, or None",
    "device": "the torch device",
    "precision": "\"fp32\", \"bf16\" or \"fp16\"",
    "channels_last": "True when image networks train in channels-last memory format",
    "step": "the number of steps done (the resumed step on --resume)",
    "total_steps": "the step the run trains to",
    "batch_size": "the batch size of one process",
    "is_main": "False on the other processes of a torchrun run",
    "rank": "this process's index under torchrun (0 alone)",
    "world_size": "the number of processes (1 alone)",
    "last_metrics": "the last logged averages",
    "error": "the exception a failed run stopped with, or None",
}

#: what a model's train_step (and preview) may call
CALL = {
    "next_batch": "next_batch(domain=None): a float batch in [-1, 1] on the device",
    "next_labelled_batch": "next_labelled_batch(domain=None): (images, labels), the labels "
                           "int64 class indices on the device (conditional models)",
    "next_batch_b": "next_batch_b(): the same as next_batch(\"B\")",
    "latent": "latent(n): n latent vectors on the device",
    "autocast": "autocast(): the run's precision, as a context manager around forward passes",
    "discriminate": "discriminate(x, net=\"D\", real=False, **kwargs): D after the run's "
                    "augmentation",
    "requires_grad": "requires_grad(names, flag): weight gradients of network(s) on or off",
    "backward_step": "backward_step(name, loss): zero grads, backward, optimizer step(s)",
}

#: every public name of the trainer
PUBLIC = {**READ, **CALL}
