"""The embedded engine: batched sampling with transformers + torch, in this process, on CPU or one GPU.

Sampling follows vLLM's sampler step by step, so rollouts mean the same thing whichever engine wrote them:
presence penalty on the logits of tokens already in the response (not the prompt), then temperature,
then top-k (ties with the k-th logit kept), then top-p (smallest set of most likely tokens whose mass
reaches p, at least one kept), then a draw `argmax(probs / q)` with exponential noise `q` (the
Gumbel-max trick vLLM uses). Log-probs are those of this processed distribution (vLLM's
`logprobs_mode="processed_logprobs"`). Temperature 0 is greedy, and its log-probs are taken at
temperature 1. A prompt's k-th completion draws its noise from its own generator seeded `seed + k` (vLLM
seeds the k-th child of an n>1 request the same way), so a prompt's completions do not depend on what
else is in the batch. Differences from vLLM: the noise stream itself differs (same distribution, other
draws), and the model runs in float32 on CPU, so logits match vLLM's only up to float precision.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from s2lpo_cli.engines.base import ChatMessages, Completion, PromptOutput, SamplingParams
from s2lpo_cli.prompting import encode_prompt

_GREEDY_BELOW = 1e-5  # vLLM's _SAMPLING_EPS: temperatures below it are greedy
NOISE_BLOCK_BYTES = 32 * 2**20  # sampling noise drawn ahead at once, all rows together


def stop_token_ids(model: Any, tokenizer: Any) -> set[int]:
    """EOS ids of the tokenizer and of the model's generation config, plus Qwen's <|im_end|>."""
    ids: set[int] = set()
    if tokenizer.eos_token_id is not None:
        ids.add(int(tokenizer.eos_token_id))
    config_eos = getattr(getattr(model, "generation_config", None), "eos_token_id", None)
    if config_eos is not None:
        ids.update(int(i) for i in (config_eos if isinstance(config_eos, list) else [config_eos]))
    im_end = tokenizer.convert_tokens_to_ids("<|im_end|>")
    if isinstance(im_end, int) and im_end != tokenizer.unk_token_id:
        ids.add(im_end)
    return ids


def process_logits(logits: Any, params: SamplingParams, seen: Any | None) -> Any:
    """vLLM's logits processing: presence penalty, temperature, top-k, top-p. Returns new float32 logits."""
    import torch

    logits = logits.float()
    if params.presence_penalty and seen is not None:
        logits = logits - params.presence_penalty * seen.float()
    if params.temperature >= _GREEDY_BELOW and params.temperature != 1.0:
        logits = logits / params.temperature
    vocab = logits.shape[-1]
    if 0 < params.top_k < vocab:
        kth = logits.topk(params.top_k, dim=-1).values[:, -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if params.top_p < 1.0:
        sorted_logits, order = logits.sort(dim=-1, descending=False)
        cumulative = sorted_logits.softmax(dim=-1).cumsum(dim=-1)
        drop = cumulative <= 1 - params.top_p
        drop[:, -1] = False
        sorted_logits = sorted_logits.masked_fill(drop, float("-inf"))
        logits = torch.empty_like(logits).scatter_(-1, order, sorted_logits)
    return logits


def sample_tokens(logits: Any, params: SamplingParams, noise: Any | None) -> tuple[Any, Any]:
    """Draw one token per row from processed logits with exponential `noise` of the same shape (None when
    greedy); returns (token ids, their log-probs)."""
    logprobs = logits.log_softmax(dim=-1)
    if params.temperature < _GREEDY_BELOW:
        tokens = logits.argmax(dim=-1)
    else:
        tokens = (logits.softmax(dim=-1) / noise).argmax(dim=-1)
    return tokens, logprobs.gather(-1, tokens[:, None]).squeeze(-1)


class _Noise:
    """Each row's exponential noise, from its own generator, drawn for several steps at a time: one call
    per row and block of steps instead of one per row and step. A generator's draws come in the same
    order either way, so a row meets the same noise at every step (tested)."""

    def __init__(self, generators: list[Any], vocab: int, longest: int) -> None:
        self.generators, self.vocab, self.longest = generators, vocab, longest
        self.block_steps = max(1, NOISE_BLOCK_BYTES // (4 * vocab * len(generators)))
        self.start, self.block, self.slot = 0, None, {}

    def at(self, step: int, rows: list[int]) -> Any:
        """The noise of `rows` (row indices, all still generating) at `step`: (len(rows), vocab)."""

        if self.block is None or step >= self.start + self.block.shape[1]:
            steps = min(self.block_steps, self.longest - step)
            self.block = _exponential([self.generators[r] for r in rows], (steps, self.vocab))
            self.start, self.slot = step, {r: i for i, r in enumerate(rows)}
        return self.block[[self.slot[r] for r in rows], step - self.start]


def _exponential(generators: list[Any], shape: tuple[int, int]) -> Any:
    """Standard exponential draws, one (steps, vocab) block per generator, stacked: exactly the values of
    `exponential_(generator=g)` (tested). On CPU, torch draws those as `-log1p(-u)` of float64 uniforms, one
    at a time; drawing the uniforms and taking the logarithm vectorized gives the same numbers ~2x faster."""
    import torch

    if any(g.device.type != "cpu" for g in generators):
        return torch.stack([torch.empty(shape, device=g.device).exponential_(generator=g) for g in generators])
    uniform = torch.stack([torch.rand(shape, dtype=torch.float64, generator=g) for g in generators])
    return uniform.neg_().log1p_().neg_().float()


@dataclass
class _Row:
    """One completion being generated: its prompt, its token budget, and what it has so far."""

    prompt: int
    limit: int
    token_ids: list[int]
    logprobs: list[float]
    finish_reason: str | None = None


class EmbeddedEngine:
    """Generates with a loaded transformers causal LM (also the live policy during training).

    `max_batch_rows` bounds the completions decoded together (prompts x n); prompts are prefilled once
    and their KV cache repeated for their n completions.
    """

    def __init__(self, model: Any, tokenizer: Any, device: Any = None, max_batch_rows: int = 64):
        import torch

        from s2lpo_cli.engines.grouped_attention import use_grouped_attention

        if device is not None:
            model = model.to(device)
        use_grouped_attention(model)
        self.model = model
        self.tokenizer = tokenizer
        self.device = next(model.parameters()).device if device is None else torch.device(device)
        self.max_batch_rows = max_batch_rows
        self.stop_ids = stop_token_ids(model, tokenizer)
        pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
        self.pad_id = int(pad if pad is not None else 0)
        self.max_positions = getattr(model.config, "max_position_embeddings", None)

    @classmethod
    def load(cls, path: str, device: str | None = "auto", **kwargs: Any) -> EmbeddedEngine:
        from s2lpo_cli.engines.loading import load_model_and_tokenizer

        model, tokenizer = load_model_and_tokenizer(path, device)
        return cls(model, tokenizer, **kwargs)

    def encode(self, messages: ChatMessages, enable_thinking: bool) -> list[int]:
        return encode_prompt(self.tokenizer, messages, enable_thinking)

    def generate(
        self, prompts: list[ChatMessages], params: SamplingParams, seeds: list[int] | None = None
    ) -> list[PromptOutput]:
        ids = [self.encode(m, params.enable_thinking) for m in prompts]
        return self.generate_from_ids(ids, params, seeds)

    def generate_from_ids(
        self, prompt_token_ids: list[list[int]], params: SamplingParams, seeds: list[int] | None = None
    ) -> list[PromptOutput]:
        """Like `generate`, for prompts already rendered and tokenized."""
        import torch

        if seeds is None:
            # vLLM: one seed for every prompt of the request; no seed: fresh draws from torch's RNG.
            seed = params.seed if params.seed is not None else int(torch.randint(0, 2**62, ()).item())
            seeds = [seed] * len(prompt_token_ids)
        if len(seeds) != len(prompt_token_ids):
            raise ValueError(f"got {len(seeds)} seeds for {len(prompt_token_ids)} prompts")
        outputs = [PromptOutput(prompt_token_ids=list(p)) for p in prompt_token_ids]
        per_chunk = max(1, self.max_batch_rows // max(1, params.n))
        was_training = self.model.training
        self.model.eval()
        try:
            with torch.inference_mode():
                for start in range(0, len(prompt_token_ids), per_chunk):
                    chunk = range(start, min(start + per_chunk, len(prompt_token_ids)))
                    rows = self._generate_chunk(
                        [prompt_token_ids[i] for i in chunk], [seeds[i] for i in chunk], params
                    )
                    for row in rows:
                        outputs[chunk[row.prompt]].completions.append(self._completion(row))
        finally:
            self.model.train(was_training)
        return outputs

    def _completion(self, row: _Row) -> Completion:
        text = self.tokenizer.decode(row.token_ids, skip_special_tokens=True)
        return Completion(
            text=text, token_ids=row.token_ids, logprobs=row.logprobs, finish_reason=row.finish_reason
        )

    def _prefill(self, prompts: list[list[int]], n: int) -> tuple[Any, Any, Any, Any]:
        """Run the left-padded prompts once; return the KV cache, next-token logits, attention mask and last
        positions, each repeated for the n completions of every prompt."""
        import torch

        dev, width = self.device, max(len(p) for p in prompts)
        if width == 0:
            raise ValueError("empty prompt")
        input_ids = torch.full((len(prompts), width), self.pad_id, dtype=torch.long, device=dev)
        mask = torch.zeros((len(prompts), width), dtype=torch.long, device=dev)
        for i, p in enumerate(prompts):
            input_ids[i, width - len(p) :] = torch.tensor(p, dtype=torch.long)
            mask[i, width - len(p) :] = 1
        positions = (mask.cumsum(-1) - 1).clamp(min=0)
        out = self.model(
            input_ids=input_ids, attention_mask=mask, position_ids=positions, use_cache=True, logits_to_keep=1
        )
        cache = out.past_key_values
        if n > 1:
            cache.batch_repeat_interleave(n)
        logits, positions = out.logits[:, -1, :], positions[:, -1:]
        return cache, *(t.repeat_interleave(n, dim=0) for t in (logits, mask, positions))

    def _generate_chunk(
        self, prompts: list[list[int]], seeds: list[int], params: SamplingParams
    ) -> list[_Row]:
        import torch

        dev = self.device
        cache, logits, mask, positions = self._prefill(prompts, params.n)
        rows, generators = [], []
        for i, p in enumerate(prompts):
            room = (
                params.max_tokens
                if self.max_positions is None
                else min(params.max_tokens, self.max_positions - len(p))
            )
            if room <= 0:
                raise ValueError(
                    f"prompt of {len(p)} tokens leaves no room in {self.max_positions} positions"
                )
            for k in range(params.n):
                rows.append(_Row(prompt=i, limit=room, token_ids=[], logprobs=[]))
                generators.append(torch.Generator(device=dev).manual_seed(seeds[i] + k))
        active = list(range(len(rows)))  # rows still generating, in batch order
        seen = torch.zeros_like(logits, dtype=torch.bool) if params.presence_penalty else None
        longest = max(row.limit for row in rows)
        decoder = _decoder(self.model, cache, mask, positions, mask.shape[1] + longest)
        noise = _Noise(generators, logits.shape[-1], longest) if params.temperature >= _GREEDY_BELOW else None

        for step in range(longest):
            processed = process_logits(logits, params, seen)
            tokens, logprobs = sample_tokens(processed, params, noise.at(step, active) if noise else None)
            keep = []
            for slot, (r, tok, lp) in enumerate(zip(active, tokens.tolist(), logprobs.tolist(), strict=True)):
                row = rows[r]
                row.token_ids.append(tok)
                row.logprobs.append(lp)
                if tok in self.stop_ids:
                    row.finish_reason = "stop"
                elif len(row.token_ids) >= row.limit:
                    row.finish_reason = "length"
                else:
                    keep.append(slot)
            if seen is not None:
                seen[torch.arange(len(active), device=dev), tokens] = True
            if not keep:
                break
            if len(keep) < len(active):
                index = torch.tensor(keep, dtype=torch.long, device=dev)
                decoder.select(index)
                tokens = tokens[index]
                seen = seen[index] if seen is not None else None
                active = [active[s] for s in keep]
            logits = decoder.step(tokens)
        return rows


def _decoder(model: Any, cache: Any, mask: Any, positions: Any, capacity: int) -> Any:
    """The fastest decode path for `model`: Qwen3Decoder where it applies, transformers' forward otherwise."""
    from s2lpo_cli.engines import qwen3_stack
    from s2lpo_cli.engines.qwen3_decoder import Qwen3Decoder

    if qwen3_stack.supports(model):
        return Qwen3Decoder(model, cache, mask, positions, capacity)
    return _TransformersDecoder(model, cache, mask, positions, capacity)


class _TransformersDecoder:
    """Decode steps through the model's own forward, its KV cache preallocated (kv_buffer.py)."""

    def __init__(self, model: Any, cache: Any, mask: Any, positions: Any, capacity: int) -> None:
        from s2lpo_cli.engines.kv_buffer import preallocate

        self.model, self.cache, self.mask, self.positions = model, preallocate(cache, capacity), mask, positions

    def select(self, rows: Any) -> None:
        """Keep only `rows` (indices into the current batch)."""
        self.cache.batch_select_indices(rows)
        self.mask, self.positions = self.mask[rows], self.positions[rows]

    def step(self, tokens: Any) -> Any:
        """Feed one token per row; returns the next-token logits (rows, vocab)."""
        import torch

        self.mask = torch.cat([self.mask, self.mask.new_ones((len(tokens), 1))], dim=1)
        self.positions = self.positions + 1
        out = self.model(input_ids=tokens[:, None], attention_mask=self.mask, position_ids=self.positions,
                         past_key_values=self.cache, use_cache=True)
        self.cache = out.past_key_values
        return out.logits[:, -1, :]
