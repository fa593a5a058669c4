"""Sites no bundled model was trained on, read out of the box: our models beside ddddocr.

    python benchmarks/held_out.py --datasets DIR [--model general --model RUN/best.pt] [--update]

DIR is a datasets folder laid out like the shared one (or set CAPTCHA_BREAK_DATASETS): the
held-out sites of `real_sites/` (its README's table marks them) and `variable_upper/`. Each
reader is held to the site's alphabet and label lengths, as a user who knows the site would
run it (`--only-chars`, `--only-length`); where the site ignores case (the README's "fold")
answers are compared case-insensitively. ddddocr 1.6.1 (the `bench` extra), its default and
beta models, is held the same way (its probabilities decoded over the site's characters by
our decoder). The figure per site and the mean over the sites are written to
benchmarks/results/held_out.{json,md}; this is the general-reader issue's target 1.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from common import add_datasets_option, add_update_option, alphabet, held_out_sites, write_results
from readers import read_ddddocr, read_with

from captcha_break.labels import scan_folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_datasets_option(parser)
    parser.add_argument("--model", action="append", help="bundled model names or model files (default: general)")
    parser.add_argument("--no-ddddocr", action="store_true", help="leave ddddocr out (it is most of the time)")
    add_update_option(parser)
    args = parser.parse_args()
    models = args.model or ["general"]
    results: dict[str, dict] = {}
    for folder, fold in held_out_sites(args.datasets).items():
        items = scan_folder(folder).items
        chars, upper_only, lengths = alphabet(items)
        readers = results[Path(folder).name] = {}
        for model in models:
            way = (model, fold or upper_only, chars, lengths)
            readers.update(read_with(model, Path(folder), [way]))
        if not args.no_ddddocr:
            readers["ddddocr 1.6.1"] = read_ddddocr(items, chars, lengths, fold, beta=False)
            readers["ddddocr 1.6.1 beta"] = read_ddddocr(items, chars, lengths, fold, beta=True)
        print(Path(folder).name, {k: round(v.get("accuracy", 0), 4) for k, v in readers.items()}, flush=True)
    readers = sorted({r for site in results.values() for r in site})
    means = {r: sum(site[r]["accuracy"] for site in results.values()) / len(results) for r in readers}
    table = [
        (f"{site}: {reader}", f"{r['accuracy']:.2%} of {r['count']}") for site, rs in results.items() for reader, r in rs.items()
    ]
    table += [(f"mean over {len(results)} held-out sites: {reader}", f"{mean:.2%}") for reader, mean in means.items()]
    write_results("held_out", {"sites": results, "means": means}, table, "Held-out real sites read out of the box")


if __name__ == "__main__":
    main()
