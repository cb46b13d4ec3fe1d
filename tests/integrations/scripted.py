"""Replies of a scripted model that calls tools, in the OpenAI chat-completions shape."""

from __future__ import annotations

import json
from typing import Any

from remem.testing import Reply


def calls_tools(*calls: tuple[str, dict[str, Any]]) -> Reply:
    """The assistant asks for these tool calls (name, arguments) and says nothing else."""
    return Reply(
        body={
            "id": "chatcmpl-tools",
            "object": "chat.completion",
            "created": 0,
            "model": "scripted",
            "choices": [
                {
                    "index": 0,
                    "message": {
                        "role": "assistant",
                        "content": None,
                        "tool_calls": [
                            {
                                "id": f"call_{i}",
                                "type": "function",
                                "function": {"name": name, "arguments": json.dumps(args)},
                            }
                            for i, (name, args) in enumerate(calls)
                        ],
                    },
                    "finish_reason": "tool_calls",
                }
            ],
            "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
        }
    )
