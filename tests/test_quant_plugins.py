"""Methods are plug-ins: the registry is torch-free, a method registered at run time runs end to end,
and config validation, labels and the data-free rule read the registry."""

import subprocess
import sys

import pandas as pd
import pytest
import torch
import yaml

from laq.quant import QuantSpec, quantize_model, registry
from laq.config import SCHEMA, with_methods
from laq.quant.registry import Method
from laq.tables import spec_label
from test_quant import SmallNet, smooth_images


def _toward_zero(ctx):
    """The toy method: truncate w / step toward zero after shrinking by `shrink` (no data)."""
    return torch.trunc(ctx.W3 * ctx.spec.options["shrink"] / ctx.step_rows()).clamp(-ctx.L, ctx.L), "toy"


@pytest.fixture
def toy():
    m = registry.register(Method(
        "toward_zero", "toward zero", needs_calibration=False, quantize_layer=_toward_zero,
        options={"shrink": {"type": "number", "exclusiveMinimum": 0, "maximum": 1, "default": 1.0}},
    ))
    yield m
    registry.unregister("toward_zero")


def test_a_method_registered_at_run_time_runs_end_to_end(toy, tmp_path):
    torch.manual_seed(0)
    net = SmallNet().double().eval()
    spec = QuantSpec.from_dict({"method": "toward_zero", "bits": 3, "shrink": 0.5, "granularity": "channel"})
    assert spec.options == {"shrink": 0.5}
    res = quantize_model(net, smooth_images(4, seed=1), spec, progress=False)
    for rec in res.layers:
        W = net.get_submodule(rec.name).weight.detach().reshape(rec.shape[0], -1)
        for n in range(rec.shape[0]):  # plain loop over rows
            s = float(rec.step[n])
            expected = [max(-4, min(4, int(0.5 * float(w) / s))) for w in W[n]]
            assert rec.codes.reshape(rec.shape[0], -1)[n].tolist() == expected
        assert rec.form == "toy"
    assert registry.label("toward_zero") == "toward zero"

    row = {"method": "toward_zero", "bits_schedule": "uniform", "bits_min": 3, "bits_max": 3, "bits_mean": 3.0,
           "alphabet": "gpfq", "granularity": "channel"}
    assert spec_label(pd.DataFrame([row])) == "toward zero, 3 bits (per-channel steps)"


def test_config_validation_reads_the_registry(toy):
    schema = with_methods(yaml.safe_load(SCHEMA.read_text()))
    item = schema["properties"]["quantization"]["properties"]["specs"]["items"]["properties"]
    assert "toward_zero" in item["method"]["enum"] and item["shrink"]["maximum"] == 1
    assert registry.spec_errors({"method": "toward_zero", "shrink": 0.5}) == []
    assert "is an option of gptq, not of method toward_zero" in registry.spec_errors({"method": "toward_zero", "damp": 0.1})[0]
    assert "not allowed for toward_zero" in registry.spec_errors({"method": "toward_zero", "shrink": 2})[0]
    assert "not a registered method" in registry.spec_errors({"method": "awq"})[0]


def test_builtin_methods_and_what_they_need():
    ms = registry.methods()
    assert list(ms) == ["gpfq", "sgpfq", "gpfq_l0", "gpfq_l1", "gptq", "rtn"]  # modules in name order
    assert [m for m, v in ms.items() if not v.needs_calibration] == ["rtn"]
    assert set(ms["gpfq_l1"].options) == {"lam"} and ms["gptq"].defaults() == {"damp": 0.01}
    with pytest.raises(ValueError, match="already registered"):
        registry.register(ms["gpfq"])


def test_registry_and_spec_import_no_torch():
    code = ("import sys, laq.quant.registry as r, laq.quant.spec, laq.tables, laq.config; r.methods(); "
            "assert 'torch' not in sys.modules, sorted(m for m in sys.modules if m.startswith('torch'))[:3]")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_options_reach_the_method():
    torch.manual_seed(1)
    net = SmallNet().double().eval()
    calib = smooth_images(6, seed=2)
    a = quantize_model(net, calib, QuantSpec.from_dict({"method": "gptq", "bits": 3, "damp": 0.01}), progress=False)
    b = quantize_model(net, calib, QuantSpec.from_dict({"method": "gptq", "bits": 3, "damp": 10.0}), progress=False)
    assert not all(torch.equal(x.codes, y.codes) for x, y in zip(a.layers, b.layers))
    assert a.spec.options == {"damp": 0.01} and b.spec.options == {"damp": 10.0}


def test_non_integer_or_non_finite_codes_are_refused_and_dead_rows_are_zero():
    from laq.io import LaqError

    torch.manual_seed(2)
    net = SmallNet().double().eval()
    with torch.no_grad():
        net.conv1.weight[3] = 0  # a dead output channel: step 0, and 0/0 in the toy method
    calib = smooth_images(4, seed=1)
    m = registry.register(Method("toward_zero", "toward zero", needs_calibration=False, quantize_layer=_toward_zero,
                                 options={"shrink": {"type": "number", "default": 1.0}}))
    try:
        spec = QuantSpec.from_dict({"method": "toward_zero", "bits": 3, "granularity": "channel"})
        res = quantize_model(net, calib, spec, progress=False)
        assert (res.layer("conv1").codes[3] == 0).all() and res.layer("conv1").step[3] == 0
        registry.register(Method("unrounded", "unrounded", needs_calibration=False,
                                 quantize_layer=lambda ctx: (ctx.W3 / ctx.step_rows(), "x")))
        with pytest.raises(LaqError, match="unrounded gave non-integer or non-finite codes"):
            quantize_model(net, calib, QuantSpec(method="unrounded", bits=3), progress=False)
    finally:
        registry.unregister("toward_zero")
        registry.unregister("unrounded")
    assert m.name == "toward_zero"
