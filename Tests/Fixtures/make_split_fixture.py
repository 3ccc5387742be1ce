# Regenerates split_fixture.json: scikit-learn's train_test_split(range(n), test_size=0.2,
# random_state=seed) for a few small n and two seeds. Run: python3 make_split_fixture.py
import json
import sklearn
from sklearn.model_selection import train_test_split

cases = []
for seed in (42, 7):
    for n in (2, 10, 37, 1000):
        train, test = train_test_split(list(range(n)), test_size=0.2, random_state=seed)
        cases.append({"n": n, "seed": seed, "train": train, "test": test})
# The full Kaggle training set: only the sizes and the first 20 indices of each part.
train, test = train_test_split(list(range(61578)), test_size=0.2, random_state=42)
big = {"n": 61578, "seed": 42, "train_count": len(train), "test_count": len(test),
       "train_prefix": train[:20], "test_prefix": test[:20]}
with open("split_fixture.json", "w") as f:
    json.dump({"generator": f"scikit-learn {sklearn.__version__}", "test_size": 0.2, "cases": cases, "large": big}, f)
