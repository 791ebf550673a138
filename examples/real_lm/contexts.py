"""The context set and probe sets of the real-model example (README "Real language models").

Deterministic (no randomness beyond a fixed seed): rerunning writes the same files.

- `labelled`: short sentences, half about food and half about other things, built from templates
  with varied subjects, verbs and times — one context each (its last position), labelled 1 (food)
  or 0. A probe must find "food" in held-out sentences; random labels are its control.
- `frames`: adjective frames ("The exam was really") whose next token is an adjective.
- `texts.txt` (beside this file): 40 diverse sentences whose every prefix is a context
  (`idlin export --prefixes`), so N can exceed the width d.
- `ADJECTIVES`: adjective → superlative pairs; those that are single tokens (with the tokenizer's
  space marker) form the token-pair probe, the rest are reported by name.
"""

from __future__ import annotations

import itertools
import random

SUBJECTS = ["My sister", "The old man", "Our neighbour", "A tired student", "The chef", "My uncle",
            "The children", "Her friend", "The teacher", "A young couple", "The farmer",
            "His grandmother"]  # fmt: skip
TIMES = ["for dinner", "this morning", "last night", "on Sunday", "after work", "before school",
         "at the weekend", "yesterday"]  # fmt: skip
FOOD = [("cooked", "a pot of lentil soup"), ("ate", "two slices of apple pie"),
        ("baked", "a loaf of rye bread"), ("fried", "some eggs and bacon"),
        ("ordered", "a bowl of spicy noodles"), ("grilled", "fresh sardines"),
        ("made", "a salad of tomatoes and cucumber"), ("roasted", "a chicken with potatoes"),
        ("tasted", "the strawberry jam"), ("shared", "a plate of cheese and grapes")]  # fmt: skip
OTHER = [("repaired", "the broken bicycle"), ("painted", "the garden fence"),
         ("read", "a novel about sailors"), ("cleaned", "the dusty attic"),
         ("visited", "the science museum"), ("wrote", "a letter to the council"),
         ("washed", "the old car"), ("played", "a game of chess"),
         ("fixed", "the leaking tap"), ("watched", "a film about volcanoes")]  # fmt: skip

FRAMES = ["The exam was really", "That mountain is very", "Her voice sounded so",
          "The weather today is", "This box feels quite", "His answer was not", "The room looked",
          "The river is extremely", "Their dog is always", "The soup tasted a bit"]  # fmt: skip

# adjective → superlative (some split into several tokens in a given vocabulary: reported by name)
ADJECTIVES = [("easy", "easiest"), ("big", "biggest"), ("small", "smallest"), ("fast", "fastest"),
              ("slow", "slowest"), ("large", "largest"), ("long", "longest"), ("short", "shortest"),
              ("high", "highest"), ("low", "lowest"), ("old", "oldest"), ("young", "youngest"),
              ("strong", "strongest"), ("weak", "weakest"), ("hard", "hardest"),
              ("great", "greatest"), ("new", "newest"), ("cheap", "cheapest"), ("rich", "richest"),
              ("poor", "poorest"), ("deep", "deepest"), ("dark", "darkest"),
              ("bright", "brightest"), ("warm", "warmest"), ("cold", "coldest"),
              ("hot", "hottest"), ("wide", "widest"), ("tall", "tallest"), ("close", "closest"),
              ("late", "latest"), ("early", "earliest"), ("happy", "happiest"),
              ("lucky", "luckiest"), ("busy", "busiest"), ("safe", "safest"), ("fine", "finest"),
              ("near", "nearest"), ("clear", "clearest"), ("kind", "kindest"),
              ("smart", "smartest"), ("simple", "simplest"), ("quick", "quickest"),
              ("heavy", "heaviest"), ("light", "lightest"), ("loud", "loudest"),
              ("quiet", "quietest"), ("nice", "nicest"), ("large", "largest"),
              ("pure", "purest"), ("rare", "rarest")]  # fmt: skip


def labelled(per_class: int = 120, seed: int = 0) -> list[tuple[str, int]]:
    """`per_class` food and `per_class` other sentences (text, label), shuffled, all distinct."""
    rng = random.Random(seed)
    out = []
    for label, actions in ((1, FOOD), (0, OTHER)):
        combos = list(itertools.product(SUBJECTS, actions, TIMES))
        rng.shuffle(combos)
        for subject, (verb, obj), when in combos[:per_class]:
            out.append((f"{subject} {verb} {obj} {when}.", label))
    rng.shuffle(out)
    return out


def adjective_pairs() -> list[tuple[str, str]]:
    """The adjective pairs without repeats (first occurrence kept)."""
    return list(dict.fromkeys(ADJECTIVES))
