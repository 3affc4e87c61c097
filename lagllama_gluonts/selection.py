"""The selection set: whole pretraining series set aside, on which pretraining runs, mixtures and
sizes are compared, so that the held-out evaluation sets are scored once, for the final table.

Why whole series: the pretraining run's own validation (the last steps of every training series)
measures how well the model continues series it has trained on; choosing a run by it favours
memorisation, and choosing by the held-out sets makes them part of training. Here, from each real
source with many series (``m4_hourly``'s train split and the package series), every frequency
gives up a deterministic ``fraction`` of its series (at least one where it has two or more),
picked by a hash of the item id, so the set is the same in every run and every session and does
not depend on the run's seed or mixture. The corpus (a dozen long single series, each its own
kind) stays whole in training: setting one aside would remove a kind of data rather than sample
it. Synthetic sources get fresh series from a seed no pretraining run uses: every synthetic
series is new to every run.
"""

import hashlib
import math
from collections import defaultdict
from typing import Dict, List, Sequence, Tuple

# the real sources split into training and selection series; the rest train whole
SPLIT_SOURCES = ("m4_hourly", "packages")
# synthetic series of the selection set are drawn with this seed (pretraining uses seed + 10 * i)
SELECTION_SEED = 987_654
# fresh series of each synthetic source in the selection set (pretrain.selection_sources)
SELECTION_SYNTHETIC = 30


def _rank(item_id: str) -> str:
    # a stable order that knows nothing of the data: the same split in every process and version
    return hashlib.sha256(str(item_id).encode()).hexdigest()


def frequency_of(entry: Dict) -> str:
    start = entry["start"]
    return getattr(start, "freqstr", None) or str(entry.get("freq", "?"))


def split_selection(entries: Sequence[Dict], fraction: float) -> Tuple[List[Dict], List[Dict]]:
    """``(train, selection)``: per frequency, the ``fraction`` of series with the lowest hash of
    their ``item_id`` (rounded up, at least one of a frequency with two or more series, never
    all of them) is set aside whole. ``fraction`` 0 sets nothing aside."""
    if not 0.0 <= fraction < 1.0:
        raise ValueError(f"the selection fraction must be in [0, 1), got {fraction}")
    by_freq: Dict[str, List[int]] = defaultdict(list)
    for k, entry in enumerate(entries):
        by_freq[frequency_of(entry)].append(k)
    chosen = set()
    if fraction > 0:
        for indices in by_freq.values():
            if len(indices) < 2:
                continue
            take = min(len(indices) - 1, max(1, math.ceil(fraction * len(indices))))
            ranked = sorted(indices, key=lambda k: _rank(entries[k].get("item_id", k)))
            chosen.update(ranked[:take])
    train = [e for k, e in enumerate(entries) if k not in chosen]
    selection = [e for k, e in enumerate(entries) if k in chosen]
    return train, selection
