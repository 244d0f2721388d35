"""Fine-tuning speed: examples/s of the training step in fp32 and under bf16 autocast.

It reuses `training.trainer`'s pieces (`build_scorer`, `epoch_batches`, `make_optimizer`, `lr_factor`,
`labels_of`) and runs the same step `fit` runs (forward, weighted cross-entropy, backward, clipping,
AdamW) on the bundled training split. By default it times a fixed number of steps after a warm-up and
extrapolates to one epoch (labelled as such in the output); `--full-epoch` times a whole epoch instead.
Checkpointing and the end-of-epoch validation are left out: they cost the same in both precisions.

    python benchmarks/training_speed.py --model runs/default [--quick]
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import (  # noqa: E402
    DEFAULT_MODEL,
    check_model,
    machine_info,
    machine_line,
    markdown_table,
    physical_cores,
    save_result,
    set_threads,
    setup_logging,
)
from notecheck.model.loader import LabelledNote  # noqa: E402

log = logging.getLogger("benchmarks.training")
WARM_UP_STEPS = 2


def base_encoder(model: Path, override: str | None) -> str:
    """The encoder the model was fine-tuned from (converted on first use); the model itself if unknown."""
    from notecheck.model.metadata import ModelMetadata
    from notecheck.training.encoder.build import ensure_base_model

    name = override or ModelMetadata.load(model).base_model or None
    resolved = ensure_base_model(name)
    return resolved if Path(resolved).is_dir() else str(model)


def time_steps(
    base: str, train: list[LabelledNote], precision: str, steps: int | None, max_length: int
) -> dict[str, Any]:
    """Examples/s over `steps` training steps (None: one whole epoch) after `WARM_UP_STEPS` untimed ones,
    on notes truncated to the model's `max_length`."""
    import torch

    from notecheck.model.classifier import model_input
    from notecheck.training.config import TrainConfig
    from notecheck.training.trainer import (
        build_scorer,
        class_weighted_loss,
        epoch_batches,
        labels_of,
        lr_factor,
        make_optimizer,
        train_step,
    )

    config = TrainConfig.load(None, precision=precision, max_length=max_length)
    scorer = build_scorer(base, config)
    model = scorer.model
    enc = scorer.encode([model_input(n.note) for n in train])
    y = torch.tensor(labels_of(train))
    loss_fn = class_weighted_loss(y, weighted=True)  # as `fit` weighs classes
    optimizer = make_optimizer(model, config)
    batches = epoch_batches([len(s) for s in enc.ids], config.batch_size, config.seed, 0)
    wanted = len(batches) if steps is None else min(len(batches), WARM_UP_STEPS + steps)
    bf16 = precision == "bf16"
    model.train()
    examples, started = 0, 0.0
    for step, batch in enumerate(batches[:wanted]):
        if step == WARM_UP_STEPS:
            examples, started = 0, time.perf_counter()
        factor = lr_factor(step, len(batches), config.warmup_ratio)
        train_step(scorer, optimizer, loss_fn, [enc.ids[i] for i in batch], y[batch], factor, bf16)
        examples += len(batch)
    seconds = time.perf_counter() - started
    rate = examples / seconds
    return {
        "precision": precision,
        "timed_steps": wanted - WARM_UP_STEPS,
        "steps_per_epoch": len(batches),
        "batch_size": config.batch_size,
        "examples": examples,
        "seconds": seconds,
        "examples_per_s": rate,
        "epoch_s": len(train) / rate,
        "extrapolated": steps is not None and wanted < len(batches),
    }


def render(result: dict[str, Any]) -> str:
    rows = [
        [
            r["precision"],
            r["timed_steps"],
            r["examples_per_s"],
            f"{r['epoch_s'] / 60:.1f}" + (" (extrapolated)" if r["extrapolated"] else ""),
        ]
        for r in result["runs"]
    ]
    return "\n".join(
        [
            f"### Training speed ({result['n_train']} training notes, batch {result['runs'][0]['batch_size']})",
            machine_line(result["machine"]),
            "",
            markdown_table(["precision", "timed steps", "examples/s", "minutes per epoch"], rows),
            "",
            f"bf16 autocast / fp32: **{result['speedup']:.2f}x** examples/s.",
        ]
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=DEFAULT_MODEL, help="model directory whose base encoder is trained")
    parser.add_argument("--base", help="base encoder to fine-tune instead of the model's recorded one")
    parser.add_argument("--quick", action="store_true", help="smoke run: 3 timed steps")
    parser.add_argument("--steps", type=int, help="timed steps per precision (default 10; quick 3)")
    parser.add_argument("--full-epoch", action="store_true", help="time one whole epoch instead")
    parser.add_argument("--threads", type=int, default=physical_cores())
    args = parser.parse_args(argv)
    setup_logging()
    model = check_model(args.model)
    set_threads(args.threads)
    from benchmarks.accuracy import training_split
    from notecheck.model.metadata import ModelMetadata

    train = training_split(model)
    base = base_encoder(model, args.base)
    steps = None if args.full_epoch else (args.steps or (3 if args.quick else 10))
    runs = []
    for precision in ("fp32", "bf16"):
        runs.append(time_steps(base, train, precision, steps, ModelMetadata.load(model).max_length))
        log.info("%s: %.2f examples/s", precision, runs[-1]["examples_per_s"])
    result = {
        "benchmark": "training_speed",
        "machine": machine_info(args.threads),
        "model": str(model),
        "base": base,
        "n_train": len(train),
        "runs": runs,
        "speedup": runs[1]["examples_per_s"] / runs[0]["examples_per_s"],
        "note": "" if args.full_epoch else f"{steps} timed steps per precision, extrapolated to one epoch",
    }
    path = save_result("training_speed" + ("_quick" if args.quick else ""), result)
    print(render(result))
    print(f"\n(written to {path})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
