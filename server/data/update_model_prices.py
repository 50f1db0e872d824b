#!/usr/bin/env python3
"""Regenerates server/data/model_prices.json from LiteLLM's price table.

The table comes from the `litellm` package on PyPI, which bundles
`litellm/model_prices_and_context_window_backup.json`. The version is pinned so the output
is reproducible; pass `--version X` (or `latest`) to move it. Only the providers Tollgate
serves are kept, whole (every field of every entry), by the same rule the server applies to a
table it fetches from PRICING_URL or reads from PRICING_FILE (server/src/pricing/filter.rs):

- entries whose `litellm_provider` is anthropic, openai, text-completion-openai, azure or
  gemini;
- entries of vertex_ai-language-models keyed by a bare `gemini-...` name (the name a Gemini
  API client sends) that the Gemini API rows do not already price: LiteLLM lists some Gemini
  models only there. Where both exist, the Gemini API's row wins;
- aliases (`{"alias_of": "claude-opus-5-5"}`) of a kept entry;
- entries with no `litellm_provider` that have an `input_cost_per_token`;
- nothing else (no Bedrock, Vertex `vertex_ai/...`, OpenRouter, ... rows).

Usage: python3 server/data/update_model_prices.py [--version 1.110.2] [--out PATH]
Needs only Python 3 and pip (PyPI reachable).
"""

import argparse
import json
import pathlib
import subprocess
import sys
import tempfile
import zipfile

LITELLM_VERSION = "1.110.2"
TABLE_IN_WHEEL = "litellm/model_prices_and_context_window_backup.json"
SERVED_PROVIDERS = {"anthropic", "openai", "text-completion-openai", "azure", "gemini"}
VERTEX_GEMINI = "vertex_ai-language-models"


def served(table):
    """The entries Tollgate keeps, in the table's order."""
    gemini_names = {
        key.removeprefix("gemini/")
        for key, entry in table.items()
        if isinstance(entry, dict) and entry.get("litellm_provider") == "gemini"
    }

    def keep_model(key, entry):
        provider = entry.get("litellm_provider")
        if provider is None:
            return "input_cost_per_token" in entry
        if provider in SERVED_PROVIDERS:
            return True
        return provider == VERTEX_GEMINI and key.startswith("gemini-") and key not in gemini_names

    models = {
        key
        for key, entry in table.items()
        if isinstance(entry, dict) and key != "sample_spec" and "alias_of" not in entry
        and keep_model(key, entry)
    }
    return {
        key: entry
        for key, entry in table.items()
        if isinstance(entry, dict) and key != "sample_spec"
        and (entry["alias_of"] in models if "alias_of" in entry else key in models)
    }


def download_table(version):
    with tempfile.TemporaryDirectory() as tmp:
        spec = "litellm" if version == "latest" else f"litellm=={version}"
        subprocess.run(
            [sys.executable, "-m", "pip", "download", spec, "--no-deps", "--only-binary=:all:",
             "--quiet", "-d", tmp],
            check=True,
        )
        wheels = sorted(pathlib.Path(tmp).glob("litellm-*.whl"))
        if not wheels:
            sys.exit("pip downloaded no litellm wheel")
        with zipfile.ZipFile(wheels[0]) as wheel:
            return wheels[0].name, json.loads(wheel.read(TABLE_IN_WHEEL))


def main():
    here = pathlib.Path(__file__).resolve().parent
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--version", default=LITELLM_VERSION)
    parser.add_argument("--out", default=str(here / "model_prices.json"))
    args = parser.parse_args()
    wheel, table = download_table(args.version)
    kept = served(table)
    text = json.dumps(kept, indent=1, sort_keys=True, ensure_ascii=False) + "\n"
    pathlib.Path(args.out).write_text(text, encoding="utf-8")
    print(f"{wheel}: kept {len(kept)} of {len(table)} entries -> {args.out}")


if __name__ == "__main__":
    main()
