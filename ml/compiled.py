"""The fitted trees of the three models flattened into arrays and walked together with numpy, for one order
at a time. scikit-learn's own predict validates its input and calls each of 600 trees separately, which
costs tens of milliseconds per order; the prediction job asks for one order at a time, so this walks every
tree one level per step instead. It must agree with scikit-learn (checked when compiled; if it ever does not,
the model keeps using scikit-learn)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from sklearn.ensemble import HistGradientBoostingRegressor


@dataclass
class CompiledTrees:
    baselines: np.ndarray  # per model: the constant the trees add to
    codes: list[list[dict[float, float]]]  # per model, per categorical column: our code -> the trees' category
    categorical: int  # the first `categorical` columns are categories
    model_of_root: np.ndarray
    roots: np.ndarray
    feature: np.ndarray
    threshold: np.ndarray
    missing_left: np.ndarray
    left: np.ndarray
    right: np.ndarray
    leaf: np.ndarray
    is_cat: np.ndarray
    bitset: np.ndarray
    value: np.ndarray
    raw_bits: np.ndarray
    known_bits: np.ndarray  # per model x categorical feature
    depth: int

    @classmethod
    def of(cls, models: Sequence[HistGradientBoostingRegressor], categorical: int) -> CompiledTrees:
        names = ("feature", "threshold", "missing_left", "left", "right", "leaf", "is_cat", "bitset", "value")
        fields: dict[str, list[np.ndarray]] = {k: [] for k in names}
        roots, owners, raw_bits, known_bits, codes, baselines = [], [], [], [], [], []
        offset, bit_offset, depth = 0, 0, 0
        for m, model in enumerate(models):
            encoder = model._preprocessor.named_transformers_["encoder"] if model._preprocessor else None
            categories = [] if encoder is None else encoder.categories_
            codes.append([{float(v): float(i) for i, v in enumerate(c)} for c in categories])
            known, f_idx_map = model._bin_mapper.make_known_categories_bitsets()
            known_bits.append(known[f_idx_map[:categorical]] if categorical else known)
            baselines.append(float(np.ravel(model._baseline_prediction)[0]))
            for (predictor,) in model._predictors:
                nodes = predictor.nodes
                roots.append(offset)
                owners.append(m)
                fields["feature"].append(nodes["feature_idx"].astype(np.int64))
                fields["threshold"].append(nodes["num_threshold"].astype(float))
                fields["missing_left"].append(nodes["missing_go_to_left"].astype(bool))
                fields["left"].append(nodes["left"].astype(np.int64) + offset)
                fields["right"].append(nodes["right"].astype(np.int64) + offset)
                fields["leaf"].append(nodes["is_leaf"].astype(bool))
                fields["is_cat"].append(nodes["is_categorical"].astype(bool))
                fields["bitset"].append(nodes["bitset_idx"].astype(np.int64) + bit_offset)
                fields["value"].append(nodes["value"].astype(float))
                bits = predictor.raw_left_cat_bitsets
                raw_bits.append(bits)
                bit_offset += len(bits)
                offset += len(nodes)
                depth = max(depth, int(nodes["depth"].max()))
        stacked = {k: np.concatenate(v) for k, v in fields.items()}
        return cls(
            baselines=np.array(baselines),
            codes=codes,
            categorical=categorical,
            model_of_root=np.array(owners, dtype=np.int64),
            roots=np.array(roots, dtype=np.int64),
            raw_bits=np.concatenate(raw_bits) if bit_offset else np.zeros((1, 8), dtype=np.uint32),
            known_bits=np.stack(known_bits) if categorical else np.zeros((len(models), 1, 8), dtype=np.uint32),
            depth=depth,
            **stacked,
        )

    def predict_one(self, row: np.ndarray) -> np.ndarray:
        """`row` as the encoder made it; the raw prediction of each model."""
        x = np.repeat(row[None, :], len(self.baselines), axis=0)
        for m, columns in enumerate(self.codes):
            for i, mapping in enumerate(columns):
                x[m, i] = mapping.get(float(row[i]), np.nan)
        nodes = self.roots.copy()
        active = np.flatnonzero(~self.leaf[nodes])  # trees still walking
        while active.size:
            at = nodes[active]
            owner = self.model_of_root[active]
            feature = self.feature[at]
            v = x[owner, feature]
            missing = np.isnan(v)
            missing_left = self.missing_left[at]
            go_left = v <= self.threshold[at]
            cat = self.is_cat[at] & ~missing
            if cat.any():
                code = np.where(cat & (v >= 0), v, 0).astype(np.int64)
                word, bit = code >> 5, code & 31
                # a numeric split's bitset index may point past the last bitset: read row 0 for it instead
                in_left = (self.raw_bits[np.where(cat, self.bitset[at], 0), word] >> bit) & 1
                known = (self.known_bits[owner, np.minimum(feature, self.categorical - 1), word] >> bit) & 1
                cat_left = np.where(in_left == 1, True, np.where(known == 1, False, missing_left))
                go_left = np.where(cat, np.where(v < 0, missing_left, cat_left), go_left)
            go_left = np.where(missing, missing_left, go_left)
            at = np.where(go_left, self.left[at], self.right[at])
            nodes[active] = at
            active = active[~self.leaf[at]]
        owner = self.model_of_root
        return self.baselines + np.bincount(owner, weights=self.value[nodes], minlength=len(self.baselines))
