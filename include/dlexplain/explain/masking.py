"""How a text is masked for shap: by substring (shap's Text masker) or by token id.

shap's Text masker rebuilds each masked text as a string and tokenizes it again. That is exact
for WordPiece and SentencePiece tokenizers, but not for byte-level BPE (RoBERTa, GPT-2, …; shap
issue 2849): a character of several bytes is split over tokens that share one character offset,
so shap repeats it once per token, and the rebuilt string collapses runs of whitespace, so even
the unmasked text differs from the input (additivity errors of 0.1–0.3 seen on a tiny RoBERTa).

For those tokenizers :class:`TokenIdText` masks token ids instead: the model gets the text's own
token ids with masked positions set to the mask token's id, and the tokens shown are the
substrings between consecutive offsets, each character given to the first token that covers it,
so they concatenate back to the text.
"""

from __future__ import annotations

import json
from typing import Sequence


def is_byte_level(tokenizer) -> bool:
    """True for a fast tokenizer whose pre-tokenizer works on bytes (RoBERTa, GPT-2 family)."""
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is None:
        return False
    spec = json.loads(backend.to_str()).get("pre_tokenizer") or {}
    parts = spec.get("pretokenizers", [spec])
    return any(part and part.get("type") == "ByteLevel" for part in parts)


def segments(text: str, offsets: Sequence[tuple[int, int] | None]) -> list[str]:
    """The substring of each token: from its start to the next token's start, no character
    given twice (tokens that share a character after the first get ``""``)."""
    spans = [(0, 0) if o is None else tuple(o) for o in offsets]
    out, cut = [], 0
    for i, (start, end) in enumerate(spans):
        if start == end == 0 and i:  # a special token after the text ([SEP], </s>)
            out.append("")
            continue
        stop = max(end, spans[i + 1][0]) if i + 1 < len(spans) and spans[i + 1] != (0, 0) else end
        begin = max(start, cut) if i else 0  # the first token also takes any leading text
        out.append(text[begin:stop] if stop > begin else "")
        cut = max(cut, stop)
    return out


def text_masker(tokenizer, token_ids: bool):
    """shap's masker for ``tokenizer``: token-id masking when ``token_ids`` (for byte-level
    tokenizers: :func:`is_byte_level`), else shap's own Text masker (strings to the model)."""
    import shap

    if not token_ids:
        return shap.maskers.Text(tokenizer)

    class TokenIdText(shap.maskers.Text):
        """shap's Text masker that hands the model token ids (see the module docstring)."""

        def token_segments(self, s):
            encoded = self.tokenizer(s, return_offsets_mapping=True)
            return segments(s, encoded["offset_mapping"]), encoded["input_ids"]

    return TokenIdText(tokenizer, output_type="token_ids")
