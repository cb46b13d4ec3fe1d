"""Model folders: any local ONNX sentence encoder is one argument away.

The folder is made of the packaged MiniLM files (linked, not copied), so these tests use
a real model and a real tokenizer, and the packaged embedder is the reference.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

import remem
from remem import InvalidInput, Memory, StoreError
from remem.providers import OnnxEmbedder, default_embedder, embedder_from
from remem.providers.local_embedder import MODEL_ID, LocalEmbedder, model_files

TEXTS = [
    "I moved to Lisbon last March.",
    "My sister Rita is a cardiologist in Porto.",
    "ok",
    "a long turn " * 120,  # past 256 tokens: truncation must match too
]


def model_folder(
    root: Path, config: dict[str, object] | None = None, *, nested: bool = False
) -> Path:
    """The packaged model laid out as a downloaded model folder."""
    folder = root / "minilm"
    (folder / "onnx").mkdir(parents=True)
    model, tokenizer = model_files()
    (folder / ("onnx/model.onnx" if nested else "model.onnx")).symlink_to(model)
    (folder / "tokenizer.json").symlink_to(tokenizer)
    if config is not None:
        (folder / "remem-embedder.json").write_text(json.dumps(config))
    return folder


def close(a: np.ndarray, b: np.ndarray) -> None:
    np.testing.assert_allclose(a, b, rtol=0, atol=1e-6)


@pytest.fixture(scope="module")
def packaged() -> LocalEmbedder:
    return LocalEmbedder.shared()


def test_a_folder_of_the_packaged_files_gives_the_packaged_vectors(
    tmp_path: Path, packaged: LocalEmbedder
) -> None:
    folder = OnnxEmbedder(model_folder(tmp_path, {"max_tokens": 256}))
    assert folder.dimension == packaged.dimension == 384
    close(folder.embed(TEXTS), packaged.embed(TEXTS))
    close(folder.embed_query("where does Ana live?"), packaged.embed_query("where does Ana live?"))
    assert folder.embed([]).shape == (0, 384)
    assert folder.model_id.startswith("onnx:minilm@") and folder.model_id != MODEL_ID


def test_the_model_may_sit_in_an_onnx_subfolder_as_hub_repositories_lay_it_out(
    tmp_path: Path, packaged: LocalEmbedder
) -> None:
    folder = OnnxEmbedder(model_folder(tmp_path, nested=True), max_tokens=256)
    close(folder.embed(TEXTS[:2]), packaged.embed(TEXTS[:2]))


def test_sentence_transformers_files_set_pooling_prompt_and_length(
    tmp_path: Path, packaged: LocalEmbedder
) -> None:
    path = model_folder(tmp_path)
    (path / "1_Pooling").mkdir()
    (path / "1_Pooling" / "config.json").write_text(
        json.dumps({"pooling_mode_cls_token": True, "pooling_mode_mean_tokens": False})
    )
    (path / "config_sentence_transformers.json").write_text(
        json.dumps({"prompts": {"query": "query: ", "document": ""}})
    )
    (path / "tokenizer_config.json").write_text(json.dumps({"model_max_length": 128}))
    cls = OnnxEmbedder(path)
    assert (cls.settings.pooling, cls.settings.query_prefix, cls.settings.max_tokens) == (
        "cls",
        "query: ",
        128,
    )
    vectors = cls.embed(TEXTS[:2])
    close(np.linalg.norm(vectors, axis=1), np.ones(2))
    assert float(vectors[0] @ packaged.embed(TEXTS[:1])[0]) < 0.99  # another pooling
    close(cls.embed_query("Lisbon"), cls.embed(["query: Lisbon"])[0])
    mean = OnnxEmbedder(path, pooling="mean", max_tokens=256)  # arguments win
    close(mean.embed(TEXTS), packaged.embed(TEXTS))
    assert len({cls.model_id, mean.model_id, OnnxEmbedder(path).model_id}) == 2


def test_prefixes_and_normalisation_are_the_folders_settings(
    tmp_path: Path, packaged: LocalEmbedder
) -> None:
    config = {"query_prefix": "query: ", "document_prefix": "passage: ", "max_tokens": 256}
    e5_style = OnnxEmbedder(model_folder(tmp_path, config))
    close(e5_style.embed(["Lisbon"]), packaged.embed(["passage: Lisbon"]))
    close(e5_style.embed_query("Lisbon"), packaged.embed(["query: Lisbon"])[0])
    raw = OnnxEmbedder(tmp_path / "minilm", normalize=False, document_prefix="")
    norms = np.linalg.norm(raw.embed(TEXTS[:2]), axis=1)
    assert not np.allclose(norms, 1.0)
    close(raw.embed(TEXTS[:2]) / norms[:, None], packaged.embed(TEXTS[:2]))


def test_a_configured_model_id_names_the_embedding_space(
    tmp_path: Path, packaged: LocalEmbedder
) -> None:
    db = tmp_path / "m.db"
    with Memory(db, embedder=packaged, llm=None) as memory:
        memory.add("I moved to Lisbon last March.", user_id="ana")
    same = str(model_folder(tmp_path, {"model_id": MODEL_ID, "max_tokens": 256}))
    with Memory(db, embedder=same, llm=None) as memory:
        assert memory.search("Where does Ana live?", user_id="ana").hits
    with (
        Memory(db, embedder=str(model_folder(tmp_path / "other")), llm=None) as memory,
        pytest.raises(StoreError, match="holds vectors of embedder"),
    ):
        memory.search("Where does Ana live?", user_id="ana")


def test_memory_takes_a_folder_path_and_binds_the_store_to_it(tmp_path: Path) -> None:
    folder = model_folder(tmp_path, {"max_tokens": 256})
    with Memory(tmp_path / "m.db", embedder=folder, llm=None) as memory:
        assert isinstance(memory.embedder, OnnxEmbedder)
        memory.add("My sister Rita is a cardiologist in Porto.", user_id="ana")
        [hit] = memory.search("what does Rita do?", user_id="ana").hits
        assert "cardiologist" in hit.text
        assert memory.stats(user_id="ana")["embedder"] == memory.embedder.model_id
    with Memory(tmp_path / "m.db", llm=None) as memory, pytest.raises(StoreError):
        memory.search("what does Rita do?", user_id="ana")


def test_names_and_the_environment_choose_the_embedder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, packaged: LocalEmbedder
) -> None:
    assert embedder_from("local") is packaged
    assert embedder_from(packaged) is packaged
    folder = model_folder(tmp_path)
    monkeypatch.setenv("REMEM_EMBEDDER", str(folder))
    chosen = default_embedder()
    assert isinstance(chosen, OnnxEmbedder) and chosen.folder == folder
    monkeypatch.setenv("REMEM_EMBEDDER", "local")
    assert default_embedder() is packaged


def test_what_is_wrong_with_a_folder_is_said(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="does not exist"):
        OnnxEmbedder(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InvalidInput, match=r"tokenizer\.json"):
        OnnxEmbedder(tmp_path / "empty")
    (tmp_path / "empty" / "tokenizer.json").write_text("{}")
    with pytest.raises(InvalidInput, match=r"model\.onnx"):
        OnnxEmbedder(tmp_path / "empty")
    folder = model_folder(tmp_path, {"pooling": "max"})
    with pytest.raises(InvalidInput, match="pooling must be one of mean, cls"):
        OnnxEmbedder(folder)
    (folder / "remem-embedder.json").write_text(json.dumps({"pool": "cls"}))
    with pytest.raises(InvalidInput, match=r"unknown key.*pool"):
        OnnxEmbedder(folder)
    (folder / "remem-embedder.json").write_text("[1]")
    with pytest.raises(InvalidInput, match="JSON object"):
        OnnxEmbedder(folder)


def locomo_file(path: Path) -> Path:
    """One tiny conversation in LoCoMo's format, with two questions."""
    turns = [
        ("Caroline", "I went to the LGBTQ support group yesterday."),
        ("Melanie", "I painted a sunrise over the lake last week."),
        ("Caroline", "My grandmother gave me a necklace from Sweden."),
    ]
    conversation = {
        "speaker_a": "Caroline",
        "speaker_b": "Melanie",
        "session_1": [
            {"speaker": who, "dia_id": f"D1:{i}", "text": text}
            for i, (who, text) in enumerate(turns, start=1)
        ],
        "session_1_date_time": "1:56 pm on 7 May, 2023",
    }
    qa = [
        {"question": "What did Melanie paint?", "answer": "x", "evidence": ["D1:2"], "category": 4},
        {
            "question": "Where is the necklace from?",
            "answer": "x",
            "evidence": ["D1:3"],
            "category": 4,
        },
    ]
    path.write_text(json.dumps([{"sample_id": "conv-e", "conversation": conversation, "qa": qa}]))
    return path


def test_eval_compares_embedders_on_the_same_questions(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from remem.eval.runner import evaluate
    from remem.interfaces.cli import app

    data = locomo_file(tmp_path / "locomo.json")
    folder = model_folder(tmp_path, {"max_tokens": 256})
    packaged = evaluate("locomo", data, workdir=tmp_path / "w1", systems=["dense"]).summary()
    assert packaged["embedder"] == MODEL_ID
    args = ["eval", "locomo", str(data), "--system", "dense", "--embedder", str(folder)]
    run = CliRunner().invoke(app, [*args, "--json", "--out", str(tmp_path / "out")])
    assert run.exit_code == 0, run.output
    from_folder = json.loads(run.stdout)
    assert from_folder["embedder"] == OnnxEmbedder(folder).model_id
    # The same vectors, so the same ranking and the same scores.
    assert from_folder["systems"]["dense"]["overall"] == packaged["systems"]["dense"]["overall"]


def _long_texts() -> list[str]:
    words = ["Ana", "moved", "to", "Lisbon", "in", "2023,", "café", "naïve", "(really)", "!"]
    prose = " ".join(words[i * 7 % len(words)] for i in range(3000))
    lines = "\n".join(f"line {i}: the deployment of v{i}.2 failed" for i in range(400))
    long_words = " ".join(["internationalization"] * 200)  # few tokens per character
    return [prose, lines, long_words, "x" * 5000, "short turn", ""]


def test_a_long_text_gives_the_vector_of_its_whole_tokens(packaged: LocalEmbedder) -> None:
    """A long text is tokenized from a prefix (``_encode``): the model still sees exactly the
    tokens of the whole text, so every vector is bitwise the same as before."""
    texts = _long_texts()
    packaged.embed(["load"])
    tokenizer = packaged._tokenizer
    whole = [packaged._run(tokenizer.encode_batch([t]))[0] for t in texts if t]
    alone = [packaged.embed([t])[0] for t in texts if t]
    together = packaged.embed([t for t in texts if t])
    for expected, one, batched in zip(whole, alone, together, strict=True):
        assert np.array_equal(expected, one)
        assert np.array_equal(expected, batched)
    assert len(texts[0]) > 2 * 8 * 256  # the prose and the lines are cut, the long words not


def _many_texts() -> list[str]:
    """Enough texts of enough lengths for many batches (``batches``)."""
    words = [
        "we",
        "walked",
        "along",
        "the",
        "river",
        "and",
        "talked",
        "about",
        "the",
        "trip",
        "to",
        "Lisbon",
        "in",
        "May",
    ]
    return [" ".join(words[: 3 + i % 13]) + f" ({i} times)" * (1 + i % 5) for i in range(300)]


def test_batches_side_by_side_give_the_vectors_of_one_thread() -> None:
    """The pool changes who runs a batch, never what it computes: bitwise the same vectors,
    and a query (one text) the same as the text embedded among many."""
    texts = _many_texts()
    alone, pooled = LocalEmbedder(threads=1), LocalEmbedder(threads=2)
    one = alone.embed(texts)
    two = pooled.embed(texts)
    assert np.array_equal(one, two)
    assert any(t.name.startswith("remem-embed") for t in threading.enumerate())
    assert pooled._session.get_session_options().intra_op_num_threads == 1
    assert alone._pool is None
    assert np.array_equal(pooled.embed_query(texts[7]), one[7])


def test_concurrent_callers_load_the_model_once_and_get_their_own_vectors() -> None:
    """The HTTP service embeds from several threads, the first of them into an unloaded model."""
    texts = _many_texts()
    expected = LocalEmbedder(threads=1).embed(texts)
    fresh = LocalEmbedder(threads=2)
    parts = [texts[i::4] for i in range(4)] + [[t] for t in texts[:8]]
    with ThreadPoolExecutor(6) as callers:
        got = list(callers.map(fresh.embed, parts))
        queries = list(callers.map(fresh.embed_query, texts[:40]))
    for i in range(4):
        assert np.array_equal(got[4 + i], expected[i : i + 1])
        assert np.array_equal(got[i], expected[i::4])
    assert all(np.array_equal(q, expected[i]) for i, q in enumerate(queries))


def test_a_process_that_embedded_exits_without_closing_anything() -> None:
    """The pool's threads never keep the interpreter alive."""
    code = (
        "from remem.providers.local_embedder import LocalEmbedder\n"
        f"print(LocalEmbedder(threads=2).embed({_many_texts()!r}).shape)\n"
    )
    source = str(Path(remem.__file__).parents[1])
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, "PYTHONPATH": source},
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "(300, 384)"
