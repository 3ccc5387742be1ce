"""Checks galaxy's files with the programs users open them with (run by FormatReaderTests).

  check_formats.py tensorboard RUN_DIR TRAIN_IMAGES [RUN_DIR TRAIN_IMAGES ...]
      TensorBoard's own event reader must return exactly the scalars of RUN_DIR/metrics.csv (each printed
      value as a float32, at step epoch * TRAIN_IMAGES), every step of a tag once, and the in-epoch
      running train RMSE (a Dirichlet run's: NLL) ending each epoch at the epoch's train RMSE (NLL).
  check_formats.py onnx CASES_JSON
      Per case: onnx.checker accepts the model, its metadata documents the input, and ONNX Runtime (CPU)
      on the case's preprocessed images, batch 1 and the whole batch, gives `galaxy predict --json`'s outputs
      (and a Dirichlet model's second output its concentrations).
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
             "train_nll": "nll/train", "test_nll": "nll/test",
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
    # A Dirichlet run (vote counts) measures the mean NLL per galaxy, and has no per-question RMSE columns.
    measure = "nll" if "train_nll" in columns else "rmse"
    if measure == "rmse" and "test_rmse_q11" not in columns:
        fail(f"metrics.csv lacks the per-question columns: {columns}")
    train_column, running_tag = f"train_{measure}", f"{measure}/train_running"
    expected_tags = {tag_of(c) for c in columns} | {running_tag}
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
    running = {e.step: e.value for e in acc.Scalars(running_tag)}
    for r in rows:
        end = int(r["epoch"]) * train_images
        if end not in running:
            fail(f"{running_tag} has no value at the end of epoch {r['epoch']} (step {end}): {sorted(running)}")
        # The running value is the float32 of the exact figure, the CSV's rounded to 6 decimals.
        if abs(running[end] - float(r[train_column])) > 5e-7 + 1e-6 * abs(float(r[train_column])):
            fail(f"epoch {r['epoch']}: running train {measure} {running[end]} at its end, metrics.csv {r[train_column]}")
    print(f"tensorboard {run_dir}: {len(rows)} epochs, {len(tags)} tags, {compared} scalars equal to metrics.csv, "
          f"{len(running)} running train {measure} points, each step once")


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
        session = ort.InferenceSession(case["model"], providers=["CPUExecutionProvider"])
        input_name = session.get_inputs()[0].name
        names = [o.name for o in session.get_outputs()]
        expected = [np.array([[rec[key][c] for c in columns] for rec in case["expected"]], dtype=np.float64)
                    for key in (["outputs", "concentrations"] if case["output_form"] == "dirichlet" else ["outputs"])]
        if names != ["output", "concentrations"][:len(expected)]:
            fail(f"{name}: outputs {names}")
        if float(np.abs(expected[0]).max()) < 1e-2:
            fail(f"{name}: galaxy predict's outputs are all near 0: the case would test nothing")
        # float32 through 7 layers in another summation order: 1e-4 of the outputs' scale, the bound of CLITests'
        # PyTorch comparison; a Dirichlet model's outputs go through the concentrations' map and the tree after that.
        bounds = dirichlet_bounds(name, case, expected) if case["output_form"] == "dirichlet" else \
            [np.full(expected[0].shape, 1e-4 * float(np.abs(expected[0]).max()))]
        whole = session.run(None, {input_name: images})
        singles = [np.concatenate(parts) for parts in zip(*[session.run(None, {input_name: images[i:i + 1]}) for i in range(n)])]
        for label, got in (("batch %d" % n, whole), ("batch 1", singles)):
            for output, g, want, bound in zip(names, got, expected, bounds):
                if g.shape != want.shape:
                    fail(f"{name} {label} {output}: shape {g.shape}, expected {want.shape}")
                err = np.abs(g - want)
                worst = int(np.argmax(err / bound))
                if not (err <= bound).all():
                    fail(f"{name} {label} {output}: |onnxruntime - galaxy predict| = {err.flat[worst]} at {worst} over its bound "
                         f"{bound.flat[worst]} (value {want.flat[worst]})")
                print(f"onnx {name} {label} {output}: onnxruntime = galaxy predict within {err.max():.2e} "
                      f"(at most {float((err / bound).max()):.3f} of the bound; values up to {float(np.abs(want).max()):.3f})")


def dirichlet_bounds(name, case, expected):
    """Bounds on |onnxruntime - galaxy predict| of a Dirichlet model's two outputs, per element.

    The logits z of the two float32 networks (7 layers, other summation orders) agree within eps_z = 1e-4 of
    their scale max |z|, the bound the other heads' outputs are held to. z is not printed, but the
    concentrations alpha = 1 + 99 s, s = sigmoid(z), give it back: z = log(s / (1 - s)). alpha then differs by
    99 sigmoid'(z) eps_z, sigmoid' = s (1 - s) moving by at most max |sigmoid''| eps_z < 0.1 eps_z over the
    difference, plus each side's float32 rounding of the map (DirichletBounds.alphaError: (99 s (8 + 2|z|) +
    alpha) u). An expected share of all volunteers is a product of at most Q shares alpha_i / A down the tree, each
    off by twice the worst relative error r of an alpha (alpha_i's and A's) plus the float32 sum of up to
    n answers, the quotient and the product ((n + 2) u): relative Q (2 r + (n + 2) u).
    """
    u = 2.0 ** -24
    alpha = expected[1]
    s = (alpha - 1) / 99
    if not ((s > 0) & (s < 1)).all():
        fail(f"{name}: a concentration at its bound 1 or 100 hides its logit; the case cannot bound the error")
    z = np.log(s / (1 - s))
    eps_z = 1e-4 * float(np.abs(z).max())
    alpha_bound = 99 * (s * (1 - s) + 0.1 * eps_z) * eps_z + 2 * (99 * s * (8 + 2 * np.abs(z)) + alpha) * u
    r = float((alpha_bound / alpha).max())
    share_bound = expected[0] * case["questions"] * (2 * r + (case["max_answers"] + 2) * u) + 1e-30
    return [share_bound, alpha_bound]

if __name__ == "__main__":
    if sys.argv[1] == "tensorboard" and len(sys.argv) % 2 == 0:
        for i in range(2, len(sys.argv), 2):
            check_tensorboard(sys.argv[i], int(sys.argv[i + 1]))
    elif sys.argv[1] == "onnx":
        check_onnx(sys.argv[2])
    else:
        fail("usage: check_formats.py tensorboard RUN_DIR TRAIN_IMAGES [RUN_DIR TRAIN_IMAGES ...] | onnx CASES_JSON")
    print("ok")
