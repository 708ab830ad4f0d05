"""`gankit train`'s flags, their range checks and the resume rules come from the
metadata of TrainOptions' fields (gankit.options.flag): a new flag is one field."""

from __future__ import annotations

import dataclasses

import click
import pytest
from click.testing import CliRunner

from gankit.bounds import check_numbers
from gankit.errors import UsageError
from gankit.options import TrainOptions, flag, flag_fields

HAND_MADE = {"--beta1", "--beta2", "--download", "--no-cache", "--resume", "--override",
             "--set", "--help"}


def _train_command(plugins):
    from gankit.cli.train import make_command

    return make_command(plugins)


def test_every_flag_field_is_a_train_option_and_back(plugins):
    cmd = _train_command(plugins)
    ctx = cmd.make_context("train", [], resilient_parsing=True)
    params = {p.name: p for p in cmd.get_params(ctx)}
    model_flags = {f.name for m in plugins.models() for f in m.train_flags}
    for f in flag_fields():
        p = params[f.name]
        assert f.metadata["flag"] in p.opts, f.name
        if not (f.metadata["multiple"] or f.metadata["is_flag"]):
            assert p.default == f.default, f.name  # the default is written once
    made = {o for p in params.values() if isinstance(p, click.Option) for o in p.opts
            if o not in model_flags}
    fields = {f.metadata["flag"] for f in flag_fields()}
    assert made - fields - HAND_MADE - {"--no-flip"} == set()


def test_bounds_come_from_the_metadata():
    for f in flag_fields():
        md = f.metadata
        if md["low"] is not None:
            with pytest.raises(UsageError, match=rf"^{md['flag']} {md['low'] - 1}: must be "
                                                 rf"at least {md['low']}"):
                check_numbers(TrainOptions(**{f.name: md["low"] - 1}))
        if md["high"] is not None:
            with pytest.raises(UsageError, match=rf"^{md['flag']} {md['high'] + 1}: must be "
                                                 rf"at most {md['high']}"):
                check_numbers(TrainOptions(**{f.name: md["high"] + 1}))
        if md["positive"]:
            with pytest.raises(UsageError, match=rf"^{md['flag']} -1.0: must be a positive"):
                check_numbers(TrainOptions(**{f.name: -1.0}))
    check_numbers(TrainOptions())  # the defaults pass


def test_resumable_comes_from_the_metadata():
    assert set(TrainOptions.RESUMABLE) == {f.name for f in flag_fields()
                                           if f.metadata["resumable"]}
    assert {"steps", "log_every", "out", "device", "log"} <= set(TrainOptions.RESUMABLE)
    assert "lr" not in TrainOptions.RESUMABLE


def test_a_new_field_is_a_new_flag():
    """What one more field with flag metadata becomes, without any other edit."""
    from gankit.cli.train import _option

    @dataclasses.dataclass
    class More:
        warmup: int = flag(0, "--warmup", "Steps of learning-rate warm-up.", type=int, low=0,
                           high=10, show_default=True)

    (f,) = dataclasses.fields(More)
    opt = _option(f)
    assert opt.opts == ["--warmup"] and opt.name == "warmup" and opt.default == 0
    assert opt.type.name == "integer" and "warm-up" in opt.help


def test_cli_passes_generated_flags_into_the_options(monkeypatch, plugins, tmp_path):
    """--keep-last, --log, --no-flip and --compile reach TrainOptions under their fields."""
    from gankit.cli import make_cli
    from gankit.cli import train as train_cmd

    seen = {}

    def stop(opts, **kw):
        seen["opts"], seen["explicit"] = opts, kw["explicit"]
        raise UsageError("stop here")

    monkeypatch.setattr("gankit.train.plan", stop)
    res = CliRunner().invoke(make_cli(), ["train", "--keep-last", "2", "--log", "a", "--log",
                                          "b", "--no-flip", "--compile", "--out",
                                          str(tmp_path)])
    assert res.exit_code == 2 and "stop here" in res.stderr, res.stderr
    o = seen["opts"]
    assert (o.keep_last, o.log, o.flip, o.compile) == (2, ("a", "b"), False, True)
    assert {"keep_last", "log", "flip", "compile", "out"} <= seen["explicit"]
    assert train_cmd  # the module the command lives in
