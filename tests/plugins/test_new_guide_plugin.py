"""A plugin written from docs/plugins.md alone, against the guide with its "Stability" section
(tests/fixtures/new_guide_plugin: two data domains, check_data, a data set with options,
a hook that acts on its own model's runs only, a command, tests feeding their own data to
check_model) keeps working unchanged."""

from __future__ import annotations

import pytest

import gankit.testing as gt
from gankit import Data, GankitError, LoadOptions

from kit import FIXTURES, import_fixture, run_fixture_tests

FIXTURE = FIXTURES / "new_guide_plugin"


@pytest.fixture
def new(monkeypatch):
    return import_fixture(monkeypatch, FIXTURE, "gankit_new_guide")


def test_new_plugins_own_tests_pass_unchanged():
    proc = run_fixture_tests(FIXTURE)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert "6 passed" in proc.stdout


def test_check_data_refuses_before_the_run_folder_exists(new, tmp_path):
    p = gt.check_plugin(new, "new-guide", light_import=False)
    res = gt.run_cli(["train", "ng-pair", "--set", "data.count=4", "--steps", "1",
                      "--out", tmp_path, "--name", "small"], plugins=p)
    assert res.exit_code == 1
    assert res.stderr.strip() == ("Error: --set min_samples=8: the data set has only 4 "
                                  "samples")
    assert not (tmp_path / "small").exists()


@pytest.mark.parametrize("domains", [{"A": 0, "a": 0}, {"A": 0, "my domain": 0}])
def test_domain_names_are_checked(new, tmp_path, monkeypatch, domains):
    p = gt.check_plugin(new, "new-guide", light_import=False)
    model = p.models().get("ng-pair")

    def load_data(plugins, options, progress=None):
        data = new.Dots().load(LoadOptions())
        return {k: Data(samples=data.samples, spec=data.spec) for k in domains}

    monkeypatch.setattr(model, "load_data", load_data)
    res = gt.run_cli(["train", "ng-pair", "--steps", "1", "--out", tmp_path], plugins=p)
    assert res.exit_code == 1 and "domain names are distinct ASCII identifiers" in res.stderr
    with pytest.raises(GankitError, match="distinct ASCII identifiers"):
        gt.check_model(model, plugins=p, data={k: load_data(None, None)[k] for k in domains})
