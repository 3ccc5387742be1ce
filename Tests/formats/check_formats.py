"""Checks galaxy's files with the programs users open them with (run by FormatReaderTests).

  check_formats.py tensorboard RUN_DIR TRAIN_IMAGES
      TensorBoard's own event reader must return exactly the scalars of RUN_DIR/metrics.csv (each printed
      value as a float32, at step epoch * TRAIN_IMAGES), every step of a tag once, and the in-epoch
      running train RMSE ending each epoch at the epoch's train RMSE.
  check_formats.py onnx CASES_JSON
      Per case: onnx.checker accepts the model, its metadata documents the input, and ONNX Runtime (CPU)
      on the case's preprocessed images, batch 1 and the whole batch, gives `galaxy predict --json`'s outputs.
Exits non-zero with a message on the first mismatch; prints what it checked.
"""
import csv
import json
import os
import sys

import numpy as np


def fail(message):
    print("FAIL: " + message)
    sys.exit(1)


def tag_of(column):
    fixed = {"epoch": "epoch", "train_rmse": "rmse/train", "test_rmse": "rmse/test", "lr": "optimizer/lr",
             "seconds": "time/epoch_seconds", "images_per_second": "time/images_per_second",
             "step_seconds": "time/step_seconds", "host_share": "time/host_share", "dead_outputs": "health/dead_outputs"}
    if column in fixed:
        return fixed[column]
    if column.startswith("test_rmse_q"):
        return "rmse_test_by_question/Q" + column[len("test_rmse_q"):]
    fail(f"metrics.csv column {column!r} has no TensorBoard tag")


def check_tensorboard(run_dir, train_images):
    from tensorboard.backend.event_processing import event_accumulator

    files = [f for f in os.listdir(run_dir) if "tfevents" in f]
    if len(files) != 1:
        fail(f"{run_dir}: expected one event file, found {files}")
    acc = event_accumulator.EventAccumulator(run_dir, size_guidance={event_accumulator.SCALARS: 0})
    acc.Reload()
    if acc.file_version != 2.0:
        fail(f"file_version {acc.file_version}, expected 2 (brain.Event:2)")
    tags = set(acc.Tags()["scalars"])
    with open(os.path.join(run_dir, "metrics.csv")) as f:
        rows = list(csv.DictReader(f))
    if not rows:
        fail("metrics.csv has no rows")
    columns = list(rows[0].keys())
    if "test_rmse_q11" not in columns:
        fail(f"metrics.csv lacks the per-question columns: {columns}")
    expected_tags = {tag_of(c) for c in columns} | {"rmse/train_running"}
    if tags != expected_tags:
        fail(f"tags {sorted(tags)} != expected {sorted(expected_tags)}")
    for tag in sorted(tags):
        steps = [e.step for e in acc.Scalars(tag)]
        if steps != sorted(set(steps)):
            fail(f"tag {tag}: steps not each once and ascending: {steps}")
    compared = 0
    for column in columns:
        events = {e.step: e.value for e in acc.Scalars(tag_of(column))}
        want = {int(r["epoch"]) * train_images: np.float32(float(r[column])) for r in rows if r[column] != ""}
        got = {s: np.float32(v) for s, v in events.items()}
        if got != want:
            fail(f"{column} / {tag_of(column)}: TensorBoard has {got}, metrics.csv {want}")
        compared += len(want)
    running = {e.step: e.value for e in acc.Scalars("rmse/train_running")}
    for r in rows:
        end = int(r["epoch"]) * train_images
        if end not in running:
            fail(f"rmse/train_running has no value at the end of epoch {r['epoch']} (step {end}): {sorted(running)}")
        # The running value is the float32 of the exact RMSE, the CSV's rounded to 6 decimals.
        if abs(running[end] - float(r["train_rmse"])) > 5e-7 + 1e-6 * abs(float(r["train_rmse"])):
            fail(f"epoch {r['epoch']}: running train RMSE {running[end]} at its end, metrics.csv {r['train_rmse']}")
    print(f"tensorboard: {len(rows)} epochs, {len(tags)} tags, {compared} scalars equal to metrics.csv, "
          f"{len(running)} running train RMSE points, each step once")


def check_onnx(cases_path):
    import onnx
    import onnxruntime as ort

    with open(cases_path) as f:
        cases = json.load(f)
    for case in cases:
        name = case["name"]
        model = onnx.load(case["model"])
        onnx.checker.check_model(model, full_check=True)
        opset = {o.domain: o.version for o in model.opset_import}
        if opset.get("", 0) < 17:
            fail(f"{name}: opset {opset}")
        meta = {p.key: p.value for p in model.metadata_props}
        for key in ("preprocessing", "crop", "size", "mean", "std", "columns", "output_form"):
            if key not in meta:
                fail(f"{name}: metadata lacks {key}: {meta}")
        if (meta["crop"], meta["size"], meta["output_form"]) != ("207", "69", case["output_form"]):
            fail(f"{name}: metadata {meta}")
        dims = model.graph.input[0].type.tensor_type.shape.dim
        if not (dims[0].dim_param and [d.dim_value for d in dims[1:]] == [3, 69, 69]):
            fail(f"{name}: input shape {dims}")
        columns = meta["columns"].split(",")
        n = case["count"]
        images = np.fromfile(case["inputs"], dtype="<f4").reshape(n, 3, 69, 69)
        expected = np.array([[rec["outputs"][c] for c in columns] for rec in case["expected"]], dtype=np.float64)
        scale = float(np.abs(expected).max())
        if scale < 1e-2:
            fail(f"{name}: galaxy predict's outputs are all near 0: the case would test nothing")
        session = ort.InferenceSession(case["model"], providers=["CPUExecutionProvider"])
        input_name = session.get_inputs()[0].name
        whole = session.run(None, {input_name: images})[0]
        singles = np.concatenate([session.run(None, {input_name: images[i:i + 1]})[0] for i in range(n)])
        for label, got in (("batch %d" % n, whole), ("batch 1", singles)):
            if got.shape != expected.shape:
                fail(f"{name} {label}: output shape {got.shape}, expected {expected.shape}")
            worst = float(np.abs(got - expected).max())
            # float32 through 7 layers in another summation order: the bound of CLITests' PyTorch comparison.
            if not worst / scale < 1e-4:
                fail(f"{name} {label}: max |onnxruntime - galaxy predict| = {worst} (outputs up to {scale})")
            print(f"onnx {name} {label}: onnxruntime = galaxy predict within {worst:.2e} (outputs up to {scale:.3f})")


if __name__ == "__main__":
    if sys.argv[1] == "tensorboard":
        check_tensorboard(sys.argv[2], int(sys.argv[3]))
    elif sys.argv[1] == "onnx":
        check_onnx(sys.argv[2])
    else:
        fail("usage: check_formats.py tensorboard RUN_DIR TRAIN_IMAGES | onnx CASES_JSON")
    print("ok")
