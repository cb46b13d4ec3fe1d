"""Replaceable model providers: each a Protocol with one real default.

The chat LLM protocol and its OpenAI-compatible client live in `remem.providers.llm`,
imported on demand so that `import remem` never loads an HTTP client.
"""

from remem.providers.embedder import Embedder, default_embedder, embedder_from
from remem.providers.onnx_embedder import OnnxEmbedder

__all__ = ["Embedder", "OnnxEmbedder", "default_embedder", "embedder_from"]
