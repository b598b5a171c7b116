"""A tiny random-weight chat model made locally, so the real vLLM engine path can
run in tests and CI without downloading weights.

Qwen2 architecture, hidden size 256, 2 layers; a byte-level BPE tokenizer
trained here on a few hundred synthetic playlist prompts and intent JSON, with a
ChatML chat template. The weights are random: the model says nothing useful,
but with schema-constrained decoding every answer is still a valid Intent, which
is exactly what the serving path must guarantee.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import tempfile
from pathlib import Path

from serving.intent.taxonomy import TAXONOMY

TINY_MODEL_VERSION = "tiny-qwen2-v1"  # bump when anything below changes the files

_CHAT_TEMPLATE = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
_SPECIAL = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
_OPENERS = ["hi", "hello", "hey there", "I'd like", "can you make", "please create", "i want", "could you find"]
_THINGS = ["a playlist", "some songs", "music", "tracks", "a mix"]
_ARTISTS = ["Daft Punk", "Adele", "The Beatles", "Bad Bunny", "Miles Davis", "Metallica", "Taylor Swift", "Drake"]
_SETTINGS = ["for a morning run", "for studying", "for a road trip", "to fall asleep", "for a dinner party",
             "for the gym", "on a rainy sunday", "for my wedding", "while cooking", "for a long drive"]


def synthetic_corpus(n: int = 400, seed: int = 0) -> list[str]:
    """Prompts plus intent-shaped JSON, so JSON punctuation and field names get merged tokens."""
    rng = random.Random(seed)
    tags = [t.name for t in TAXONOMY]
    out = []
    for _ in range(n):
        tag, artist = rng.choice(tags), rng.choice(_ARTISTS)
        prompt = f"{rng.choice(_OPENERS)} {rng.choice(_THINGS)} of {tag} like {artist} {rng.choice(_SETTINGS)}"
        if rng.random() < 0.3:
            prompt += f", no {rng.choice(tags)}"
        if rng.random() < 0.3:
            prompt = f"{rng.randint(5, 40)} songs from the {rng.choice([60, 70, 80, 90])}s: " + prompt
        out.append(prompt)
        out.append(json.dumps({"search_text": prompt[:60], "genres": [tag], "moods": [], "activities": [],
                               "include_artists": [artist], "exclude_artists": [], "exclude_terms": [],
                               "era": {"start": 1980, "end": 1989}, "energy": round(rng.random(), 2),
                               "length": None}, separators=(",", ":")))
    return out


def make_tiny_model(out_dir: str | Path, *, seed: int = 0, vocab_size: int = 2048) -> Path:
    """Write the model to `out_dir` (atomically) and return it; an existing complete one is kept."""
    out = Path(out_dir)
    marker = out / ".complete"
    if marker.is_file() and marker.read_text().strip() == TINY_MODEL_VERSION:
        return out
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast, Qwen2Config, Qwen2ForCausalLM

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, special_tokens=_SPECIAL, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
    )
    tok.train_from_iterator(synthetic_corpus(seed=seed), trainer=trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, eos_token="<|im_end|>", pad_token="<|endoftext|>", chat_template=_CHAT_TEMPLATE
    )

    torch.manual_seed(seed)
    config = Qwen2Config(
        vocab_size=len(fast), hidden_size=256, intermediate_size=512, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=8192,
        tie_word_embeddings=True, eos_token_id=fast.eos_token_id, pad_token_id=fast.pad_token_id,
        bos_token_id=None, torch_dtype="bfloat16",
    )
    model = Qwen2ForCausalLM(config).to(torch.bfloat16)

    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".tiny-", dir=out.parent))
    try:
        model.save_pretrained(tmp)
        fast.save_pretrained(tmp)
        (tmp / ".complete").write_text(TINY_MODEL_VERSION)
        if out.exists():
            shutil.rmtree(out)
        os.replace(tmp, out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out


def cached_tiny_model(cache_dir: str | Path = "~/.cache/segue") -> Path:
    """The tiny model under `cache_dir`/test-models, made on first use (tests share it per machine)."""
    return make_tiny_model(Path(cache_dir).expanduser() / "test-models" / TINY_MODEL_VERSION)
