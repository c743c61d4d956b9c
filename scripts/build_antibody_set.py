"""Build the shipped antibody heavy-chain demo set with per-residue IMGT region labels.

Reproducible (seeded) synthetic human heavy chains: an IGHV germline (functional, allele *01)
with somatic-hypermutation-like substitutions, a random CDR3 (the V gene's own 105-106 residues,
a random junction, the J gene's CDR3 part trimmed by 0-3 residues) and the IGHJ framework 4.
Every chain is IMGT-numbered against the human heavy-chain profile with ``anarcism`` (Apache-2.0, embedded models, no network) and each
residue labelled FR1, CDR1, FR2, CDR2, FR3, CDR3 or FR4 from its IMGT position; chains that do
not number as one complete human heavy domain are dropped (counted in the output).

Sources and licences (also written beside the data, in ``antibody_heavy.SOURCE.md``):
  germline amino-acid sequences: the IMGT-aligned human IGHV/IGHJ tables shipped in PyPI
  ``abnumber==0.4.4`` (MIT), which originate from IMGT/GENE-DB (IMGT data: CC BY 4.0);
  numbering: ``anarcism==1.0.1`` (Apache-2.0; reimplements ANARCI, BSD-3).

Usage (needs ``pip install anarcism==1.0.1 && pip install --no-deps abnumber==0.4.4``; abnumber's
germline table is read as a file, the package itself is not imported):

    python scripts/build_antibody_set.py --out recipegen/data --n 1200 --seed 19
"""

from __future__ import annotations

import argparse
import ast
import importlib.util
import random
import sys
from collections import Counter
from pathlib import Path

AMINO_ACIDS = "ACDEFGHIKLMNPQRSTVWY"
# approximate amino-acid usage in human CDR3 junctions (Tyr/Gly/Ser/Asp rich)
CDR3_WEIGHTS = dict(
    zip(AMINO_ACIDS, (6, 1, 9, 3, 3, 12, 2, 2, 2, 3, 1, 3, 4, 2, 6, 10, 5, 5, 4, 15), strict=True)
)
REGION_CODES = {
    "FR1": "1",
    "CDR1": "A",
    "FR2": "2",
    "CDR2": "B",
    "FR3": "3",
    "CDR3": "C",
    "FR4": "4",
}
BASENAME = "antibody_heavy"


def load_germlines() -> tuple[dict[str, str], dict[str, tuple[str, str]], list[str]]:
    """(V genes {name: ungapped 1..104 + 105..106}, J genes {name: (CDR3 part, FR4)}, V 105-106)."""
    spec = importlib.util.find_spec("abnumber")
    if spec is None or not spec.submodule_search_locations:
        sys.exit(
            "build_antibody_set.py: error: pip install --no-deps abnumber==0.4.4 (its germline table is read)"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / "germlines.py"
    tree = ast.parse(path.read_text())
    tables = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name):
            if node.targets[0].id in ("HUMAN_IMGT_IG_V", "HUMAN_IMGT_IG_J"):
                tables[node.targets[0].id] = ast.literal_eval(node.value)
    v_tab, j_tab = tables["HUMAN_IMGT_IG_V"]["H"], tables["HUMAN_IMGT_IG_J"]["H"]
    v_pos = v_tab["positions"]
    i104 = v_pos.index("H104")
    v_genes = {}
    for name, aligned in sorted(v_tab["aligned_sequences"].items()):
        if not name.endswith("*01") or len(aligned) != len(v_pos):
            continue
        body = aligned[: i104 + 1]
        if (
            body[-1] != "C"
            or body.count("-") > 12
            or any(c not in AMINO_ACIDS + "-" for c in aligned)
        ):
            continue  # keep germlines with the conserved Cys104 and ordinary gaps
        tail = aligned[i104 + 1 :].replace("-", "")[:2]
        v_genes[name] = (body.replace("-", ""), tail)
    j_pos = j_tab["positions"]
    i118 = j_pos.index("H118")
    j_genes = {}
    for name, aligned in sorted(j_tab["aligned_sequences"].items()):
        if name.endswith("*01") and aligned[i118] == "W":
            j_genes[name] = (aligned[:i118].replace("-", ""), aligned[i118:])
    return v_genes, j_genes


def mutate(seq: str, rate: float, rng: random.Random) -> tuple[str, int]:
    """Point substitutions at ``rate`` per residue (never the conserved Cys), -> (seq, count)."""
    out, n = [], 0
    for i, c in enumerate(seq):
        if c != "C" and i > 0 and rng.random() < rate:
            out.append(rng.choice([a for a in AMINO_ACIDS if a not in (c, "C")]))
            n += 1
        else:
            out.append(c)
    return "".join(out), n


def make_chain(v_genes, j_genes, rng: random.Random) -> tuple[str, str, str, int]:
    """-> (sequence, V name, J name, mutations)."""
    v_name = rng.choice(sorted(v_genes))
    j_name = rng.choice(sorted(j_genes))
    v_body, v_tail = v_genes[v_name]
    j_cdr3, fr4 = j_genes[j_name]
    v_mut, n_mut = mutate(v_body, rng.uniform(0.0, 0.08), rng)
    junction = "".join(
        rng.choices(AMINO_ACIDS, weights=list(CDR3_WEIGHTS.values()), k=rng.randint(2, 12))
    )
    cdr3 = v_tail + junction + j_cdr3[rng.randint(0, min(3, len(j_cdr3) - 2)) :]
    return v_mut + cdr3 + fr4, v_name, j_name, n_mut


def region_string(seq: str, result) -> str | None:
    """One region code per residue, or None unless one complete human heavy domain covers it."""
    if len(result.domains) != 1:
        return None
    dom = result.domains[0]
    if dom.chain_type != "H":
        return None
    codes = ["."] * len(seq)
    for res in dom.numbering:
        if res.amino_acid != "-":
            codes[res.sequence_index] = REGION_CODES[res.region]
    if "." in codes or set(codes) != set(REGION_CODES.values()):
        return None
    return "".join(codes)


SOURCE_TEXT = """# antibody_heavy: synthetic human antibody heavy chains with IMGT region labels

Files: `antibody_heavy.fasta` ({n} chains) and `antibody_heavy.regions.fasta` (one region code per
residue, FASTA-like label format of `sae.labels`; legend in its `#legend` line:
1=FR1 A=CDR1 2=FR2 B=CDR2 3=FR3 C=CDR3 4=FR4).

Built by `scripts/build_antibody_set.py --n {n} --seed {seed}` (re-running it reproduces the files
byte for byte): a human IGHV germline (functional *01 alleles with Cys104) with 0-8% random
substitutions, a random CDR3 (V 105-106, a random 2-12 residue junction, the IGHJ CDR3 part trimmed
by 0-3), and the IGHJ framework 4. Regions come from IMGT numbering by anarcism {anarcism} (human heavy profile)
(FR1 1-26, CDR1 27-38, FR2 39-55, CDR2 56-65, FR3 66-104, CDR3 105-117, FR4 118-128).
{dropped} generated chains that did not number as one complete heavy domain (human profile) were dropped.
These are synthetic sequences for demonstrations and tests, not natural antibodies.

## Sources, licences, attribution

- Germline amino-acid sequences: the IMGT-aligned human IGHV/IGHJ tables in PyPI `abnumber==0.4.4`
  (MIT licence, David Prihoda / Merck), which originate from IMGT/GENE-DB.
  IMGT data are provided under the Creative Commons Attribution 4.0 International licence
  (CC BY 4.0). Attribution: IMGT®, the international ImMunoGeneTics information system®,
  https://www.imgt.org (Lefranc M-P et al., Nucleic Acids Res. 43:D413-D422, 2015;
  Giudicelli V, Chaume D, Lefranc M-P, Nucleic Acids Res. 33:D256-D261, 2005). Changes: alleles *01
  only, sequences ungapped, mutated and recombined as described above. IMGT does not endorse this
  data set.
- IMGT numbering: `anarcism` (Apache-2.0), a reimplementation of ANARCI (Dunbar J, Deane CM,
  Bioinformatics 32:298-300, 2016; BSD-3-Clause) with IMGT's numbering scheme (Lefranc M-P et al.,
  Dev. Comp. Immunol. 27:55-77, 2003).
- The generated files: CC BY 4.0, attribution as above.
"""


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, default=Path("recipegen/data"))
    p.add_argument("--n", type=int, default=1200, help="chains to write")
    p.add_argument("--seed", type=int, default=19)
    args = p.parse_args(argv)
    try:
        import anarcism
    except ImportError:
        sys.exit("build_antibody_set.py: error: pip install anarcism==1.0.1")
    v_genes, j_genes = load_germlines()
    rng = random.Random(args.seed)
    records, dropped, seen = [], 0, set()
    while len(records) < args.n:
        batch = [make_chain(v_genes, j_genes, rng) for _ in range(args.n - len(records))]
        results = anarcism.number_sequences(
            [(str(i), b[0]) for i, b in enumerate(batch)],
            workers=2,
            allowed_chains=["H"],
            allowed_species=["human"],
        )
        for (seq, v_name, j_name, n_mut), res in zip(batch, results, strict=True):
            regions = region_string(seq, res)
            if regions is None or seq in seen:
                dropped += 1
                continue
            seen.add(seq)
            records.append((seq, regions, v_name, j_name, n_mut))
    args.out.mkdir(parents=True, exist_ok=True)
    width = len(str(args.n))
    fasta, labels = [], ["#legend " + " ".join(f"{c}={r}" for r, c in REGION_CODES.items())]
    labels.insert(
        0, "# IMGT regions per residue; see antibody_heavy.SOURCE.md (CC BY 4.0, IMGT attribution)"
    )
    for i, (seq, regions, v_name, j_name, n_mut) in enumerate(records, 1):
        rid = f"abH{i:0{width}d}"
        fasta += [f">{rid} {v_name} {j_name} mutations={n_mut} cdr3_len={regions.count('C')}", seq]
        labels += [f">{rid}", regions]
    (args.out / f"{BASENAME}.fasta").write_text("\n".join(fasta) + "\n")
    (args.out / f"{BASENAME}.regions.fasta").write_text("\n".join(labels) + "\n")
    (args.out / f"{BASENAME}.SOURCE.md").write_text(
        SOURCE_TEXT.format(
            n=len(records), seed=args.seed, anarcism=anarcism.__version__, dropped=dropped
        )
    )
    counts = Counter("".join(r[1] for r in records))
    print(
        f"{len(records)} chains ({len(v_genes)} V x {len(j_genes)} J germlines, {dropped} dropped) -> {args.out}; "
        + " ".join(f"{r}:{counts[c]}" for r, c in REGION_CODES.items())
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
