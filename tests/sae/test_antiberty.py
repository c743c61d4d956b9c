"""sae.models.antiberty: the HF folder built from the antiberty 0.1.3 wheel carries the wheel's
weights and a 25-token tokenizer; the trained model predicts residues, the random control does not.
Skips when the optional ``antiberty`` extra is not installed."""

from __future__ import annotations

import math

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
import antiberty  # noqa: E402,F401  (setup.sh installs the sae extra `antiberty`: missing = a failure)
from sae.models.antiberty import (  # noqa: E402
    CHECKPOINT_SUBDIR,
    VOCAB_SUBPATH,
    AntibertyError,
    antiberty_package_dir,
    build_antiberty_folder,
    check_tokenizer,
)

GERMLINE = "EVQLVESGGGLVQPGGSLRLSCAASGFTFSSYAMSWVRQAPGKGLEWVSAISGSGGSTYYADSVKGRFTISRDNSKNTLYLQMNSLRAEDTAVYYCAK"


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    base = tmp_path_factory.mktemp("antiberty")
    return build_antiberty_folder(base / "real"), build_antiberty_folder(
        base / "random", random_init=True
    )


def _masked_ce(folder, seq, every=7):
    tok = transformers.AutoTokenizer.from_pretrained(folder)
    model = transformers.AutoModelForMaskedLM.from_pretrained(folder).eval()
    ids = tok(" ".join(seq), return_tensors="pt")["input_ids"]
    losses = []
    for i in range(1, ids.shape[1] - 1, every):
        x = ids.clone()
        x[0, i] = tok.mask_token_id
        with torch.no_grad():
            logits = model(input_ids=x).logits
        losses.append(
            float(torch.nn.functional.cross_entropy(logits[0, i : i + 1], ids[0, i : i + 1]))
        )
    return sum(losses) / len(losses)


def test_tokenizer_ids_are_the_vocab_file_lines(folders):
    real, _ = folders
    lines = antiberty_package_dir().joinpath(*VOCAB_SUBPATH).read_text().split()
    tok = transformers.AutoTokenizer.from_pretrained(real)
    assert len(tok) == 25
    want = [lines.index("[CLS]")] + [lines.index(c) for c in "EVQL"] + [lines.index("[SEP]")]
    assert tok("E V Q L")["input_ids"] == want
    assert tok(" ".join(GERMLINE))["input_ids"].count(lines.index("[UNK]")) == 0


def test_weights_are_the_wheels(folders):
    real, _ = folders
    state = torch.load(
        antiberty_package_dir().joinpath(*CHECKPOINT_SUBDIR) / "pytorch_model.bin",
        map_location="cpu",
        weights_only=True,
    )
    model = transformers.AutoModelForMaskedLM.from_pretrained(real)
    ours = model.state_dict()
    for key in (
        "bert.encoder.layer.3.attention.self.query.weight",
        "cls.predictions.transform.dense.weight",
    ):
        assert torch.equal(ours[key], state[key])
    assert model.config.num_hidden_layers == 8 and model.config.hidden_size == 512


def test_trained_predicts_and_random_guesses(folders):
    real, rand = folders
    assert _masked_ce(real, GERMLINE) < 0.5 * math.log(25)
    assert abs(_masked_ce(rand, GERMLINE) - math.log(25)) < 0.3


def test_a_five_token_tokenizer_is_refused(tmp_path, folders):
    real, _ = folders
    vocab = tmp_path / "v" / "vocab.txt"
    vocab.parent.mkdir()
    vocab.write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]) + "\n")
    bad = transformers.BertTokenizer(vocab_file=str(vocab))
    bad.save_pretrained(tmp_path / "v")
    with pytest.raises(AntibertyError, match="25-token"):
        check_tokenizer(tmp_path / "v")
    check_tokenizer(real)  # the good one passes


def test_refuses_to_clobber_a_non_empty_folder(tmp_path):
    (tmp_path / "keep.txt").write_text("x")
    with pytest.raises(AntibertyError, match="not empty"):
        build_antiberty_folder(tmp_path)
    assert (tmp_path / "keep.txt").read_text() == "x"
