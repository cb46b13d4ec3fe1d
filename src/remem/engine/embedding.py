"""Embedding: moving a store's vectors to another model (``reembed``)."""

from __future__ import annotations

import time
from collections.abc import Callable

from pydantic import BaseModel, ConfigDict

from remem.engine.core import Core
from remem.errors import InvalidInput
from remem.providers.embedder import EmbedderChoice, embedder_from


class Reembedded(BaseModel):
    """What ``Memory.reembed`` did: the embedder the store now holds the vectors of, the one
    it held before, and the rows embedded by this call (``resumed`` more were staged by an
    earlier call that stopped half-way; ``at_switch`` of this call's were written while it
    ran). ``switched`` is False when the store already used this embedder."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    embedder: str
    dimension: int
    previous: str | None
    switched: bool
    embedded: int = 0
    resumed: int = 0
    at_switch: int = 0
    seconds: float = 0.0


#: What ``reembed`` reports after each batch: rows embedded so far, rows to embed in all.
ReembedProgress = Callable[[int, int], None]


class Embedding(Core):
    def reembed(
        self,
        embedder: EmbedderChoice,
        *,
        batch_size: int = 256,
        progress: ReembedProgress | None = None,
    ) -> Reembedded:
        """Embed every memory and entity of the store again with ``embedder``, then switch to it.

        ``embedder`` is what ``Memory(embedder=...)`` takes: a model folder, "local", an
        ``Embedder``. The whole store moves (every tenant: one store, one embedding space).
        The new vectors are staged beside the current ones, ``batch_size`` texts at a time,
        and search keeps using the old ones until the switch, one transaction at the end. A
        call stopped half-way (Ctrl-C, a crash) leaves its batches staged: calling again with
        the same embedder continues where it stopped. Afterwards the store refuses the old
        embedder, and this Memory uses the new one.
        """
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise InvalidInput("batch_size must be a positive integer")
        started = time.perf_counter()
        new = embedder_from(embedder)
        space = (new.model_id, new.dimension)
        state = self.store.reembedding()
        previous = state.current[0] if state.current else None
        if state.current is None or (state.current == space and state.target is None):
            self.store.bind_embedder(*space)  # no vectors yet, or already these: nothing to redo
            self.embedder, self._bound = new, True
            return Reembedded(
                embedder=new.model_id,
                dimension=new.dimension,
                previous=previous,
                switched=state.current != space,
            )
        self.store.begin_reembed(*space)
        state = self.store.reembedding()
        done = resumed = state.staged
        if progress:
            progress(done, state.total)
        after = None
        while batch := self.store.unstaged(batch_size, after):
            vectors = new.embed([row.text for row in batch])
            with self.store.transaction():
                self.store.stage_vectors(list(zip(batch, vectors, strict=True)))
            done, after = done + len(batch), batch[-1]
            if progress:
                progress(done, max(done, state.total))
        at_switch = self.store.switch_embedder(new.embed)
        self.embedder, self._bound = new, True
        return Reembedded(
            embedder=new.model_id,
            dimension=new.dimension,
            previous=previous,
            switched=True,
            embedded=done - resumed + at_switch,
            resumed=resumed,
            at_switch=at_switch,
            seconds=time.perf_counter() - started,
        )
