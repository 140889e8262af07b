"""The locally trained tokenizer: lossless, Qwen3's special tokens, Qwen3's chat template behaviour."""

import pytest

from s2lpo_cli.prompting import build_messages, render_prompt, tokenizer_hash
from s2lpo_cli.tiny.tokenizer import train_tokenizer

CORPUS = ["What is 12 + 7?", "12+7=19. \\boxed{19}", "Solve for x: 3x + 2 = 11.", "3x=9, x=3. \\boxed{3}"] * 5


@pytest.fixture(scope="module")
def tok():
    return train_tokenizer(CORPUS, vocab_size=300)


@pytest.mark.parametrize(
    "text",
    [
        "What is 123 + 4567?",
        "Let $f(x) = \\frac{1}{2}x^2$. Find $f(3)$, naïve ∑ 😀.",
        "  two  spaces\n\nand\ttab ",
        "<think>\nhm\n</think>\n\n\\boxed{-7}",
    ],
)
def test_round_trip(tok, text):
    ids = tok(text, add_special_tokens=False).input_ids
    assert tok.decode(ids) == text


def test_digits_are_single_tokens(tok):
    ids = tok("2026", add_special_tokens=False).input_ids
    assert [tok.decode([i]) for i in ids] == ["2", "0", "2", "6"]


def test_special_tokens_like_qwen3(tok):
    assert tok.eos_token == "<|im_end|>" and tok.pad_token == "<|endoftext|>"
    for special in ("<|im_start|>", "<|im_end|>", "<|endoftext|>", "<think>", "</think>"):
        ids = tok(special, add_special_tokens=False).input_ids
        assert len(ids) == 1, special
    # like Qwen3, think tags are not special: they survive skip_special_tokens
    ids = tok("<|im_start|><think>x</think><|im_end|>", add_special_tokens=False).input_ids
    assert tok.decode(ids, skip_special_tokens=True) == "<think>x</think>"


def test_chat_template_enable_thinking(tok):
    messages = build_messages("What is 1 + 1?", "Put the final answer in \\boxed{}.")
    thinking = render_prompt(tok, messages, enable_thinking=True)
    plain = render_prompt(tok, messages, enable_thinking=False)
    assert (
        thinking == "<|im_start|>user\nWhat is 1 + 1?\nPut the final answer in \\boxed{}.<|im_end|>\n"
        "<|im_start|>assistant\n"
    )
    assert plain == thinking + "<think>\n\n</think>\n\n"


def test_chat_template_history_and_system(tok):
    messages = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Q1"},
        {"role": "assistant", "content": "<think>\nold\n</think>\n\nA1"},
        {"role": "user", "content": "Q2"},
        {"role": "assistant", "content": "<think>\nnew\n</think>\n\nA2"},
    ]
    text = tok.apply_chat_template(messages, tokenize=False)
    assert text == (
        "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nQ1<|im_end|>\n"
        "<|im_start|>assistant\nA1<|im_end|>\n<|im_start|>user\nQ2<|im_end|>\n"
        "<|im_start|>assistant\n<think>\nnew\n</think>\n\nA2<|im_end|>\n"
    )


def test_training_is_deterministic():
    assert tokenizer_hash(train_tokenizer(CORPUS, vocab_size=300)) == tokenizer_hash(
        train_tokenizer(CORPUS, 300)
    )
