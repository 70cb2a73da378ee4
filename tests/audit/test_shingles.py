"""Shingles: light edits change nothing or little; MinHash signatures are datasketch's own."""

from __future__ import annotations

import numpy as np
from datasketch import MinHash

from casebank.audit._shingles import (
    NUM_PERM,
    Shingled,
    containment,
    jaccard,
    minhash,
    minhashes,
    shingle_set,
    shingles_at,
    strings_in,
    words,
)

QUESTION = "How long do I have to return a pair of shoes bought in the sale?"


def test_words_are_normalised_for_case_width_punctuation_and_whitespace() -> None:
    assert words("  HOW long,\tdo I\n\nhave…  ﬁle Ｏrders!") == ["how", "long", "do", "i", "have", "file", "orders"]


def test_case_whitespace_and_punctuation_edits_keep_every_shingle() -> None:
    edited = "how LONG do i have to  return a pair of shoes, bought in the sale"
    assert shingle_set(edited) == shingle_set(QUESTION)
    assert len(shingle_set(QUESTION)) == 13  # 15 words, in triples


def test_a_changed_word_loses_only_the_shingles_that_hold_it() -> None:
    changed = shingle_set(QUESTION.replace("shoes", "boots"))
    assert containment(shingle_set(QUESTION), changed) == 10 / 13
    assert jaccard(shingle_set(QUESTION), changed) == 10 / 16
    assert containment(set(), changed) == 0.0 and jaccard(set(), set()) == 0.0


def test_a_text_shorter_than_a_shingle_is_one_shingle_and_an_empty_one_none() -> None:
    assert shingle_set("Refund?") == shingle_set("refund") and len(shingle_set("refund please")) == 1
    assert shingle_set(" ... ") == set()


def test_shingles_at_give_each_shingles_offset_in_the_text() -> None:
    text = "Q: where is\nmy parcel"
    assert [offset for _, offset in shingles_at(text)] == [0, 3, 9]
    assert {h for h, _ in shingles_at(text)} == shingle_set(text)
    assert [offset for _, offset in shingles_at("hi  there")] == [0]


def test_signatures_are_those_datasketch_computes_one_set_at_a_time() -> None:
    sets = [shingle_set(QUESTION), set(), shingle_set("where is my parcel"), shingle_set(QUESTION.upper() + " now")]
    for shingles, signature in zip(sets, minhashes(sets), strict=True):
        reference = MinHash(num_perm=NUM_PERM, seed=1, hashfunc=lambda h: h & 0xFFFFFFFF)
        reference.update_batch(list(shingles))
        assert np.array_equal(signature.hashvalues, reference.hashvalues)
    assert minhash(sets[0]).jaccard(minhash(sets[3])) > 0.6


def test_signatures_of_a_batch_larger_than_a_chunk_match_one_at_a_time() -> None:
    sets = [shingle_set(f"question {n} about a refund for order {n * 7} please") for n in range(800)]
    batch = minhashes(sets)
    assert all(np.array_equal(batch[n].hashvalues, minhash(sets[n]).hashvalues) for n in (0, 399, 799))


def test_strings_in_a_value_leave_out_message_roles_types_and_ids() -> None:
    message = {"role": "user", "parts": [{"type": "text", "content": "hello"}, {"type": "tool_call", "id": "c1"}]}
    assert strings_in([message, {"question": "why", "n": 3}, "plain"]) == ["hello", "why", "plain"]


def test_shingled_values_leave_out_ids_beside_real_text() -> None:
    with_id = Shingled({"question": QUESTION, "customer_id": "c-991", "lang": "en"}, 3)
    assert with_id.shingles == shingle_set(QUESTION) and with_id.text == QUESTION
    only_ids = Shingled({"order": "A-17", "lang": "en"}, 3)
    assert only_ids.shingles == shingle_set("A-17") | shingle_set("en") and len(only_ids) == 2
