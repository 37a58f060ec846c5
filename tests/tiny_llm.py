"""Tiny random decoder LLMs with a tiny byte-level BPE tokenizer, saved like any Hugging Face model folder.

They run the real loading and embedding code offline in seconds; their numbers mean nothing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Iterable

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
from transformers import AutoModel, LlamaConfig, PretrainedConfig, PreTrainedTokenizerFast

from sasnet.embeddings import llm
from sasnet.embeddings.llm import PAPER_INSTRUCTION

CHATML = ("{% for message in messages %}<|im_start|>{{ message['role'] }}\n{{ message['content'] }}<|im_end|>\n"
          "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")
TINY = {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4,
        "num_key_value_heads": 2, "max_position_embeddings": 1024, "initializer_range": 0.3}


def tiny_tokenizer(training_texts: Iterable[str], chat_template: str | None = CHATML) -> PreTrainedTokenizerFast:
    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    specials = ["<s>", "<pad>", "<|im_start|>", "<|im_end|>"]
    trainer = trainers.BpeTrainer(vocab_size=400, special_tokens=specials,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    bpe.train_from_iterator([*training_texts, PAPER_INSTRUCTION, "system user assistant"], trainer)
    bpe.post_processor = processors.TemplateProcessing(single="<s> $A", special_tokens=[("<s>", 0)])
    return PreTrainedTokenizerFast(tokenizer_object=bpe, bos_token="<s>", pad_token="<pad>",
                                   additional_special_tokens=specials[2:], chat_template=chat_template)


def save_tiny_model(folder: Path, config: PretrainedConfig, tokenizer: PreTrainedTokenizerFast) -> Path:
    torch.manual_seed(0)
    AutoModel.from_config(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def save_tiny_llama(folder: Path, training_texts: Iterable[str]) -> Path:
    tokenizer = tiny_tokenizer(training_texts)
    return save_tiny_model(folder, LlamaConfig(vocab_size=len(tokenizer), **TINY), tokenizer)


def kill_after_one_shard(monkeypatch) -> tuple[list, Callable]:
    """Make the LLM embed raise KeyboardInterrupt (a killed run) once it has written one shard.

    Returns the list the computed shards are appended to and the real shard function, to restore or wrap.
    """
    real_embed_shard = llm._embed_shard
    computed = []

    def killed_after_one_shard(*args, **kwargs):
        if computed:
            raise KeyboardInterrupt
        computed.append(real_embed_shard(*args, **kwargs))
        return computed[-1]

    monkeypatch.setattr(llm, "_embed_shard", killed_after_one_shard)
    return computed, real_embed_shard
