"""`gfr report` at the Allen database's size: 2,333 cells x 6 configurations.

Generates a dataset (every cell of the shipped Allen table, each configuration's
parameters cloned from a shipped record of that configuration and perturbed,
random EVRs and losses so the filters split it), times `gfr report` on it as a
command (TensorFlow import included), then times the index filter in headless
Chromium from file:// (performance.now() around the filter, layout included).

    uv run python benchmarks/report_scale.py [--out build/report_scale]
    uv run python benchmarks/report_scale.py --screenshots SITE   # docs/figures/report_*.png of a built site
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time

import numpy as np

import gfr_keras as gk
from gfr_keras.allen_metadata import load_allen_metadata


def generated_dataset(path, seed=0):
    rng = np.random.default_rng(seed)
    table = load_allen_metadata()
    shipped = gk.read_dataset(gk.SHIPPED_DATASET_PATH)
    records = []
    for configuration in gk.CONFIGURATIONS:
        templates = [r for r in shipped if (r["bin_size"], r["actv_bin_size"]) == configuration]
        for row_index, (cell_id, cre) in enumerate(zip(table["specimen__id"], table["line_name"])):
            params = json.loads(json.dumps(templates[row_index % len(templates)]["params"]))
            scale = float(rng.lognormal(0, 0.2))
            params["a"] = [[w * scale for w in params["a"][0]]]
            params["b"] = [[w * float(rng.lognormal(0, 0.2)) for w in params["b"][0]]]
            params["g"]["b"] = [params["g"]["b"][0] * float(rng.uniform(0.7, 1.3))]
            records.append({
                "cell_id": int(cell_id), "cre-line": cre if isinstance(cre, str) else "",
                "bin_size": configuration[0], "actv_bin_size": configuration[1],
                "val_evr": float(rng.uniform(-0.2, 1)), "test_evr": float(rng.uniform(-0.2, 1)),
                "train_loss": float(rng.uniform(0.2, 0.6)), "test_loss": float(rng.uniform(0.2, 0.6)),
                "params": params,
            })
    gk.write_dataset(records, path)
    return len(table), len(records)


def browser_page(playwright, viewport=(1400, 1000)):
    browser = playwright.chromium.launch(executable_path=shutil.which("chromium"), args=["--host-resolver-rules=MAP * ~NOTFOUND"])
    page = browser.new_page(viewport={"width": viewport[0], "height": viewport[1]})
    page.route("**/*", lambda route: route.continue_() if route.request.url.startswith("file://") else route.abort())
    return browser, page


def time_filters(site):
    """Milliseconds of each filter change, as the page measures it (filter, sort, rows, figures, layout)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser, page = browser_page(playwright)
        started = time.perf_counter()
        page.goto(f"file://{os.path.abspath(site)}/index.html")
        load_s = time.perf_counter() - started
        timings = {"first render (all cells)": page.evaluate("window.GFR_LAST_FILTER_MS")}
        steps = [
            ("species: Mus musculus", lambda: page.select_option("#species", label="Mus musculus")),
            ("+ configuration (20, 20)", lambda: page.select_option("#config", label="(20, 20) ms")),
            ("+ test EVR >= 0.5", lambda: page.fill("#evr-min", "0.5")),
            ("+ test EVR <= 0.9", lambda: page.fill("#evr-max", "0.9")),
            ("+ passes filters", lambda: page.check("#passing")),
            ("cre line (first)", lambda: page.select_option("#cre", index=2)),
            ("reset", lambda: page.click("#clear")),
            ("sort by (20, 20) test EVR", lambda: page.click('th[data-sort="test_evr"][data-config="2"]')),
        ]
        for name, action in steps:
            action()
            timings[name] = page.evaluate("window.GFR_LAST_FILTER_MS")
            timings[name + " -> count"] = page.text_content("#count")
        repeats = [page.evaluate("() => { GFRIndex.readControls(); return window.GFR_LAST_FILTER_MS; }") for _ in range(20)]
        browser.close()
    return load_s, timings, repeats


def screenshots(site, cell_id, folder="docs/figures"):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser, page = browser_page(playwright)
        page.goto(f"file://{os.path.abspath(site)}/index.html")
        page.screenshot(path=os.path.join(folder, "report_index.png"))
        page.goto(f"file://{os.path.abspath(site)}/cells/{cell_id}.html")
        page.screenshot(path=os.path.join(folder, "report_cell.png"))
        browser.close()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default="build/report_scale")
    parser.add_argument("--screenshots", metavar="SITE")
    parser.add_argument("--cell", type=int, help="--screenshots: the cell page to show")
    args = parser.parse_args()
    if args.screenshots:
        screenshots(args.screenshots, args.cell)
        return
    os.makedirs(args.out, exist_ok=True)
    dataset = os.path.join(args.out, "gfr_dataset_2333.json")
    n_cells, n_records = generated_dataset(dataset)
    print(f"generated {n_cells} cells, {n_records} records: {dataset} ({os.path.getsize(dataset) / 1e6:.1f} MB)")
    started = time.perf_counter()
    gfr = os.path.join(os.path.dirname(sys.executable), "gfr")  # the installed command, as a user runs it
    subprocess.run([gfr, "report", "--dataset", dataset, "--out", os.path.join(args.out, "site")], check=True)
    build_s = time.perf_counter() - started
    site = os.path.join(args.out, "site")
    size_mb = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(site) for f in fs) / 1e6
    n_files = sum(len(fs) for _, _, fs in os.walk(site))
    print(f"gfr report: {build_s:.1f} s wall (command, TensorFlow import included); {n_files} files, {size_mb:.0f} MB")
    load_s, timings, repeats = time_filters(site)
    print(f"index load in Chromium: {load_s:.2f} s")
    for name, value in timings.items():
        print(f"  {name}: {value if isinstance(value, str) else f'{value:.1f} ms'}")
    print(f"  re-apply x20: median {statistics.median(repeats):.1f} ms, max {max(repeats):.1f} ms")


if __name__ == "__main__":
    main()
