"""A small byte-level BPE tokenizer trained locally, with Qwen3's special tokens and chat template.

Like Qwen3's: digits are split one per token, `<|im_end|>` ends a turn (eos), `<|endoftext|>` pads, and
`<think>`/`</think>` are added tokens that stay visible in decoded text. The chat template follows Qwen3's
behaviour: `enable_thinking=False` opens the assistant turn with an empty think block.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from s2lpo_cli.prompting import DEFAULT_INSTRUCTION

ENDOFTEXT, IM_START, IM_END = "<|endoftext|>", "<|im_start|>", "<|im_end|>"
THINK, END_THINK = "<think>", "</think>"
VOCAB_SIZE = 1024

CHAT_TEMPLATE = """\
{%- set ns = namespace(last_user=-1) -%}
{%- for message in messages -%}
  {%- if message.role == 'user' -%}{%- set ns.last_user = loop.index0 -%}{%- endif -%}
{%- endfor -%}
{%- for message in messages -%}
  {%- if message.role == 'user' or message.role == 'system' -%}
    {{- '<|im_start|>' + message.role + '\\n' + message.content + '<|im_end|>\\n' -}}
  {%- elif message.role == 'assistant' -%}
    {%- set content = message.content or '' -%}
    {%- set reasoning = '' -%}
    {%- if message.reasoning_content is string -%}
      {%- set reasoning = message.reasoning_content -%}
    {%- elif '</think>' in content -%}
      {%- set reasoning = content.split('</think>')[0].split('<think>')[-1] -%}
      {%- set content = content.split('</think>')[-1] -%}
    {%- endif -%}
    {%- if loop.index0 > ns.last_user and (loop.last or reasoning) -%}
      {{- '<|im_start|>assistant\\n<think>\\n' + reasoning.strip('\\n') + '\\n</think>\\n\\n'
          + content.lstrip('\\n') + '<|im_end|>\\n' -}}
    {%- else -%}
      {{- '<|im_start|>assistant\\n' + content.lstrip('\\n') + '<|im_end|>\\n' -}}
    {%- endif -%}
  {%- endif -%}
{%- endfor -%}
{%- if add_generation_prompt -%}
  {{- '<|im_start|>assistant\\n' -}}
  {%- if enable_thinking is defined and enable_thinking is false -%}
    {{- '<think>\\n\\n</think>\\n\\n' -}}
  {%- endif -%}
{%- endif -%}
"""

# Text besides the task that prompts carry: instructions, chat-template pieces, and common words of math
# problems, so real questions (MATH, AIME) tokenize into more than single bytes.
_EXTRA_TEXT = [
    DEFAULT_INSTRUCTION,
    "Put the final answer in \\boxed{}.",
    "system\nYou are a helpful assistant.\nuser\nassistant\n",
    "Let $x$ be a real number such that $\\frac{a}{b} = \\sqrt{2}$. Find the value of the integer $n$.",
    "How many positive integers less than $100$ are divisible by $3$? Compute the sum of all solutions.",
    "What is the probability that a triangle with area $A$ has a circle of radius $r$? Express your answer "
    "as a common fraction, in simplest radical form, in terms of $\\pi$.",
    "\\left( \\right) \\cdot \\times \\le \\ge \\neq \\dfrac \\tfrac \\sqrt \\pi \\theta \\infty",
]


def training_corpus(texts: Iterable[str]) -> list[str]:
    return [*texts, *(_EXTRA_TEXT * 20)]


def train_tokenizer(texts: Iterable[str], vocab_size: int = VOCAB_SIZE) -> Any:
    """Train a byte-level BPE on `texts` and wrap it as a transformers fast tokenizer."""
    from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.Digits(individual_digits=True), pre_tokenizers.ByteLevel(add_prefix_space=False)]
    )
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=[ENDOFTEXT, IM_START, IM_END],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(training_corpus(texts), trainer)
    tok.add_tokens([AddedToken(t, special=False, normalized=False) for t in (THINK, END_THINK)])
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        eos_token=IM_END,
        pad_token=ENDOFTEXT,
        chat_template=CHAT_TEMPLATE,
        model_max_length=512,
        padding_side="left",
        clean_up_tokenization_spaces=False,
    )
