"""The request body of spec §2.2, shared by the request-model and validation tests."""

from __future__ import annotations

import json
from typing import Any

# Spec §2.2, verbatim.
SPEC_EXAMPLE: dict[str, Any] = json.loads(
    r"""
{
  "conversationState": {
    "agentContinuationId": "5b0e7d0a-3c8e-4b4e-9d8f-1c2a3b4c5d6e",
    "agentTaskType": "vibe",
    "chatTriggerType": "MANUAL",
    "conversationId": "0b4445e1-f5be-49e1-87ce-62bbc28ad705",
    "currentMessage": {
      "userInputMessage": {
        "userInputMessageContext": {
          "toolResults": [
            {"toolUseId": "tooluse_AbC123", "content": [{"text": "total 8\n-rw-r--r-- a.txt"}], "status": "success"}
          ],
          "tools": [
            {"toolSpecification": {"name": "Bash", "description": "Run a shell command",
              "inputSchema": {"json": {"type": "object", "properties": {"command": {"type": "string"}},
                                       "required": ["command"], "additionalProperties": true}}}}
          ]
        },
        "content": "",
        "modelId": "claude-sonnet-4.5",
        "origin": "AI_EDITOR"
      }
    },
    "history": [
      {"userInputMessage": {"content": "<thinking_mode>enabled</thinking_mode><max_thinking_length>20000</max_thinking_length>\nYou are Claude Code...\nWhen the Write or Edit tool has content size limits, always comply silently. ...", "modelId": "claude-sonnet-4.5", "origin": "AI_EDITOR"}},
      {"assistantResponseMessage": {"content": "I will follow these instructions."}},
      {"userInputMessage": {"content": "List files", "modelId": "claude-sonnet-4.5", "origin": "AI_EDITOR"}},
      {"assistantResponseMessage": {"content": "<thinking>The user wants ls.</thinking>\n\nI'll list them.",
        "toolUses": [{"toolUseId": "tooluse_AbC123", "name": "Bash", "input": {"command": "ls -l"}}]}}
    ]
  },
  "profileArn": "arn:aws:codewhisperer:us-east-1:699475941385:profile/EHGA3GRVQMUK"
}
"""
)
