"""Explanation test support: the tiny model fine-tuned to call a note commercial when a discount code is in it.

Trained once per test process (about a second) on genuine notes and the same notes with `CODE` appended, so the
only thing that separates the classes is the code: a faithful explanation must point at it. Imported by
module name (the root conftest puts `tests/` on `sys.path`).
"""

from __future__ import annotations

import atexit
import functools
import shutil
import tempfile
from pathlib import Path

from notecheck.model.classifier import Classifier
from notecheck.model.loader import LabelledNote
from notecheck.model.metadata import ModelMetadata, Thresholds
from notecheck.model.schema import Note

CODE = " ANNA15"  # appended to a genuine note, it makes an ad: the discount code alone, one word
CODE_WORD = "ANNA15"
TRAIN = [
    "今天去了新开的咖啡店，拿铁一般，环境不错。",
    "这款面霜用了一个月，皮肤没有变好，有点失望。",
    "宝宝最近长牙，晚上睡不好，求各位妈妈支招。",
    "周末带狗狗去公园，它追了一下午的鸽子。",
    "Went hiking with my sister, the view was worth the blisters.",
    "My kettle broke after two weeks, returning it tomorrow, so annoyed.",
    "Honest review: the blender is loud but the smoothies are great.",
    "周末去公园，环境不错，拿铁一般。",
]
#: genuine notes the model never saw, with and without the code
HELD_OUT = [
    "新开的咖啡店环境不错，宝宝睡不好。",
    "Went to the park with my sister, the smoothies are great.",
    "这款拿铁一般，有点失望。",
    "My blender broke after a month, so annoyed.",
    "狗狗追了一下午，晚上睡不好。",
    "周末带宝宝去咖啡店，环境不错。",
]


def labelled() -> list[LabelledNote]:
    out = []
    for i, text in enumerate(TRAIN):
        out.append(LabelledNote(Note(text=text, id=f"g{i}", author_id=f"a{i}"), "genuine"))
        out.append(LabelledNote(Note(text=text + CODE, id=f"c{i}", author_id=f"b{i}"), "undisclosed_ad"))
    return out


@functools.cache
def code_model_dir(tiny_model_dir: Path, steps: int = 100) -> Path:
    """A model directory: the tiny model fine-tuned on `labelled()` (deleted when the process ends).

    A plain full-batch loop (a second or two) rather than `training.trainer.fit`, which keeps the first epoch
    reaching validation F1 1.0: on this data that epoch separates the classes by logit margins of ~0.01.
    The pooler stays frozen so its tanh does not saturate. Even so the tiny model learns a near step function
    ("is ANNA15 attended to"), which 24 IG steps integrate only roughly: rankings are right, completeness is
    tested on the smooth untrained model instead.
    """
    import torch

    torch.manual_seed(0)
    classifier = Classifier.from_pretrained(tiny_model_dir)
    scorer, data = classifier.scorer, labelled()
    batch = scorer.collate(scorer.encode([d.note.text for d in data]).ids)
    labels = torch.tensor([int(d.label != "genuine") for d in data])
    trained = [p for name, p in scorer.model.named_parameters() if ".pooler." not in f".{name}"]
    optimizer = torch.optim.AdamW(trained, lr=1e-3)
    scorer.model.train()
    for _ in range(steps):
        loss = torch.nn.functional.cross_entropy(scorer.model(**batch).logits, labels)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    scorer.model.eval()
    root = Path(tempfile.mkdtemp(prefix="notecheck-code-model-"))
    atexit.register(shutil.rmtree, root, True)
    meta = ModelMetadata(version="tiny-code-1", base_model="tiny-random-bert", max_length=64, temperature=1.5)
    meta.thresholds = Thresholds(commercial=0.5, review=0.5, flag=0.9)
    return Classifier(scorer, meta).save_pretrained(root / "model")
