"""QLoRA end to end (issue 26), on the CPU: the quantisation a model was trained with is
recorded in its folder and honoured when it is loaded again (bitsandbytes needs cuda, so
the CPU sees the clear error that the recorded 4-bit base cannot load here)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from paths import BILLS
from test_splits import make_study

from replicoder import study as study_mod
from replicoder.errors import ReplicoderError
from replicoder.models import load_trained, quant
from replicoder.models.tiny import build_tiny
from replicoder.train import TrainConfig, train

pytestmark = pytest.mark.timeout(300)


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[study_mod.Study, Path]:
    root = tmp_path_factory.mktemp("qlora")
    tiny = str(build_tiny(root / "tiny"))
    df = pd.read_csv(BILLS)
    rows = df[df.major_topic.isin([3, 12, 16, 20])].groupby("major_topic").head(10)
    st = make_study(root / "study", rows)
    result = train(st, "m", TrainConfig(base=tiny, epochs=1, batch_size=8, device="cpu"))
    return st, result.folder


def _edit(path: Path, **changes: object) -> None:
    data = json.loads(path.read_text())
    data.update(changes)
    path.write_text(json.dumps(data))


def test_the_record_follows_the_run_precision() -> None:
    import torch

    assert quant.record(None, True) is None
    for bf16, dtype in ((True, torch.bfloat16), (False, torch.float32)):
        rec = quant.record("4bit", bf16)
        assert rec is not None and rec["quant_type"] == "nf4"
        config = quant.bnb_config(rec)  # what the loader hands transformers
        assert config.load_in_4bit and config.bnb_4bit_quant_type == "nf4"
        assert config.bnb_4bit_compute_dtype == dtype
        assert config.bnb_4bit_use_double_quant


def test_a_full_precision_model_records_none_and_loads(
        trained: tuple[study_mod.Study, Path]) -> None:
    st, folder = trained
    assert json.loads((folder / "manifest.json").read_text())["quantization"] is None
    model = load_trained(st, "m", device="cpu")
    assert model.quantization is None


def test_a_recorded_4bit_base_is_required_when_loading(
        trained: tuple[study_mod.Study, Path], tmp_path: Path) -> None:
    import shutil

    from replicoder.classify import classify
    from replicoder.classify.inference import load_model

    st, folder = trained
    q = folder.parent / "q"
    shutil.copytree(folder, q)
    _edit(q / "manifest.json", quantization=quant.record("4bit", True))
    with pytest.raises(ReplicoderError, match="trained on a 4-bit NF4 base.*CUDA GPU"):
        load_trained(st, "q", device="cpu")
    with pytest.raises(ReplicoderError, match="trained on a 4-bit NF4 base"):
        load_model(st, "q", device="cpu")  # classify and reproduce load through here
    with pytest.raises(ReplicoderError, match="trained on a 4-bit NF4 base"):
        classify(st, "q", tmp_path / "o.parquet", device="cpu")
    # a model from before the record: its settings say --quantize 4bit
    old = folder.parent / "old"
    shutil.copytree(folder, old)
    _edit(old / "config.json", quantize="4bit")
    manifest = json.loads((old / "manifest.json").read_text())
    del manifest["quantization"]
    (old / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ReplicoderError, match="trained on a 4-bit NF4 base"):
        load_trained(st, "old", device="cpu")
    _edit(q / "manifest.json", quantization={"quant_type": "int3"})
    with pytest.raises(ReplicoderError, match="manifest.json gives quantization"):
        load_trained(st, "q", device="cpu")
