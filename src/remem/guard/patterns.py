"""The instruction-like patterns ``remem.guard.detect`` looks for, by kind.

Each rule is (kind, cue words, pattern): the pattern is only tried near one of its cue
words, so most text never reaches a regular expression. The rules are written for the
shapes an order takes (who is addressed, what is cancelled, which role is claimed, what
the reader is told to do), not for any one attack's wording, and are checked against the
benign dev conversations (no finding in ~13,500 turns; docs/security.md).
"""

from __future__ import annotations

from typing import Literal

FindingKind = Literal["override", "role_spoof", "planted_order", "order", "hidden"]

_PREVIOUS = r"(?:all\s+|any\s+|the\s+|your\s+|my\s+|these\s+|those\s+|of\s+)*"
_EARLIER = (
    r"(?:previous|prior|above|earlier|preceding|former|original|old|existing|initial|system|"
    r"safety)"
)
_RULES = (
    r"(?:instructions?|prompts?|rules|directives?|directions|guidelines|guardrails|"
    r"constraints|context|programming|orders)"
)
_ROLE_WORDS = r"(?:system|assistant|developer|tool|function|admin|administrator|root|operator)"
_ASSISTANT = (
    r"(?:(?:the\s+|an?\s+|any\s+|all\s+)?(?:assistant|ai(?:\s+(?:assistant|model|agent)s?)?|"
    r"language\s+models?|llms?|chat\s?bots?|agents?|models?|gpt|chatgpt|claude|gemini|copilot))"
)
_SAY = (
    r"(?:say|tell|reply|respond|answer|state|claim|recommend|mention|insist|assert|confirm|"
    r"refer|direct|redirect|describe)"
)
_AI_WORDS = (
    "assistant",
    "ai",
    "model",
    "llm",
    "agent",
    "bot",
    "gpt",
    "claude",
    "gemini",
    "copilot",
)

#: (kind, words one of which the lower-cased text must contain, pattern). The words are a
#: cheap filter: most text contains none of them and never reaches the regular expression.
RULES: list[tuple[FindingKind, tuple[str, ...], str]] = [
    (
        "override",
        (
            "ignore",
            "disregard",
            "forget",
            "override",
            "overrule",
            "bypass",
            "drop",
            "abandon",
            "discard",
            "set aside",
        ),
        rf"\b(?:ignore|disregard|forget|override|overrule|bypass|drop|abandon|discard|set\s+aside)"
        rf"\s+{_PREVIOUS}(?:{_EARLIER}\s+)?{_RULES}\b"
        r"|\b(?:ignore|disregard|forget)\s+(?:everything|anything|all)\s+(?:you\s+(?:were|have"
        r"\s+been)\s+told|(?:said\s+)?(?:above|before|previously))",
    ),
    (
        "override",
        ("new", "real", "true", "actual", "updated"),
        r"\b(?:your|the)\s+(?:new|real|true|actual|updated)\s+(?:instructions|directives?|"
        r"system\s+prompt|orders)\s+(?:is|are|:)|\bnew\s+(?:system\s+)?(?:instructions?|rules|"
        r"directives?)\s*:",
    ),
    (
        "override",
        ("you are now", "you are no longer", "mode"),
        r"\byou\s+are\s+(?:now|no\s+longer)\s+(?:DAN|free\s+(?:of|from)|unrestricted|jailbroken|"
        r"(?:allowed|permitted)\s+to|not\s+bound|bound\s+by|in\s+(?:developer|god|DAN|"
        r"unrestricted)\s+mode)"
        r"|\b(?:developer|god|jailbreak|DAN|unrestricted|debug)\s+mode\s+(?:is\s+)?(?:enabled|"
        r"activated|on)\b|\b(?:enable|activate|enter)\s+(?:developer|god|jailbreak|DAN|"
        r"unrestricted)\s+mode\b",
    ),
    (
        "override",
        ("the user", "system prompt", "instructions"),
        r"\b(?:do\s+not|don'?t|never)\s+(?:tell|inform|reveal\s+(?:this|that|it)\s+to|let|alert|"
        r"warn|mention\s+(?:this|that|it)\s+to)\s+the\s+user\b"
        r"|\bwithout\s+(?:telling|informing|notifying|alerting|asking)\s+the\s+user\b"
        r"|\b(?:reveal|print|output|repeat|leak|show)\s+(?:your|the)\s+(?:system\s+prompt|hidden"
        r"\s+instructions|initial\s+instructions)\b",
    ),
    # "system: ..." / "[SYSTEM] ..." / "### System:" / "<system>" at the start of a line.
    (
        "role_spoof",
        ("system", "assistant", "developer", "tool", "function", "admin", "root", "operator"),
        rf"^\s*(?:#{{1,4}}\s*|\*\*)?(?:\[\s*{_ROLE_WORDS}(?:\s+(?:message|note|prompt|output|"
        rf"override))?\s*\]|<\s*/?\s*{_ROLE_WORDS}(?:[_ -](?:message|prompt|output|result))?\s*>|"
        rf"{_ROLE_WORDS}(?:\s+(?:message|note|prompt|override|instruction|update))?\s*(?:\*\*)?"
        r"\s*:(?!//))",
    ),
    (
        "role_spoof",
        (
            "<|",
            "inst]",
            "<<sys",
            "<tool",
            "<function",
            "<observation",
            "observation",
            "output",
            "result",
            "response",
            "role",
        ),
        r"<\|(?:im_start|im_end|system|assistant|user|endoftext|start_header_id|eot_id)\|>"
        r"|\[/?INST\]|<<\s*/?SYS\s*>>"
        r"|<\s*/?\s*(?:tool_(?:result|output|response|call)|function_(?:result|response|call)|"
        r"observation)\s*>"
        r"|^\s*(?:observation|tool\s+(?:output|result|response)|function\s+(?:output|result|"
        r"response))\s*:"
        r"|[{,]\s*[\"']role[\"']\s*:\s*[\"'](?:system|developer|tool|function)[\"']",
    ),
    # Orders that outlive the request: "from now on", "in all future answers".
    (
        "order",
        ("from now on", "future", "later", "subsequent", "following"),
        r"\bfrom\s+now\s+on\b[^.!?\n]{0,40}\b(?:you|always|never|only|respond|reply|answer|say|"
        r"tell|refer|recommend)\b"
        r"|\b(?:in|for)\s+(?:all|every|any)\s+(?:future|later|subsequent|following)\s+"
        r"(?:responses?|answers?|replies|conversations?|sessions?|chats?|interactions?)\b",
    ),
    # "Always answer ...", "Never mention ..." opening a sentence: an order about replies.
    (
        "order",
        ("always", "never", "only"),
        rf"(?:^|[.!?:;]\s+)(?:please\s+)?(?:always|never|only)\s+{_SAY}\b",
    ),
    # "When (the) user asks about X, say Y"; "tell the user that ...".
    (
        "planted_order",
        ("user", "anyone", "someone", "asked", "asks"),
        r"\b(?:when(?:ever)?|if)\s+(?:the\s+user|users?|anyone|someone|asked)\b[^.!?\n]{0,80}?"
        rf"(?:\b(?:asks?|asked|inquires?|mentions?|wants?)\b[^.!?\n]{{0,80}}?)?[,:]\s*"
        rf"(?:you\s+(?:must|should|will)\s+)?(?:always\s+)?{_SAY}\b"
        rf"|\b{_SAY}\s+(?:to\s+)?the\s+user\s+(?:that|with|to)\b",
    ),
    # Addressed to an AI: "AI agents reading this must ...", "Assistant, you must ...".
    (
        "planted_order",
        _AI_WORDS,
        rf"\b{_ASSISTANT}\s*[,:]?\s*(?:reading|processing|parsing|summari[sz]ing|that\s+reads?|"
        r"who\s+reads?)\s+(?:this|these)\b"
        rf"|\b(?:attention|note|important|instruction)\s+(?:to|for)\s+{_ASSISTANT}\b"
        rf"|(?:^|[.!?]\s+)(?:dear\s+)?{_ASSISTANT}\s*[,:]\s*(?:you\s+)?(?:must|should|shall|"
        r"need\s+to|have\s+to|are\s+(?:required|instructed|ordered)\s+to|always|never|please)\b"
        rf"|\b{_ASSISTANT}\s+(?:must|shall|is\s+(?:required|instructed|ordered)\s+to|are\s+"
        rf"(?:required|instructed|ordered)\s+to)\s+(?:always\s+|never\s+|now\s+)?(?:{_SAY}|"
        r"ignore|obey|follow|comply|use|treat|include)\b",
    ),
    (
        "order",
        ("obey", "comply", "follow"),
        r"\byou\s+(?:must|will|shall)\s+(?:now\s+)?(?:obey|comply\s+with|follow)\s+(?:these|"
        r"the\s+following|my|this)\b",
    ),
    # "Disregard what you were told", "pay no attention to the earlier messages", "do not
    # follow your earlier guidance": cancelling what came before, however it is phrased.
    (
        "override",
        ("ignore", "disregard", "forget", "attention", "follow", "ignored", "disregarded"),
        r"\b(?:ignore|disregard|forget|pay\s+no\s+attention\s+to|(?:do\s+not|don'?t|stop|no\s+"
        r"longer)\s+(?:follow(?:ing)?|obey(?:ing)?|apply(?:ing)?|heed(?:ing)?))\s+"
        r"(?:what(?:ever)?\s+(?:you\s+(?:were|have\s+been|had\s+been)\s+(?:told|given|taught)|"
        r"(?:was|is|has\s+been)\s+(?:said|written|stated)\s+(?:above|before|earlier))"
        rf"|{_PREVIOUS}(?:{_EARLIER}|above)\s+(?:\w+\s+)?(?:{_RULES}|guidance|messages?|"
        r"information|text|content|conversation|answers?|records?|notes?|statements?|data)"
        r"|(?:the|everything|all)\s+(?:above|before))\b"
        r"|\b(?:previous|prior|earlier|above|old|existing|original|former)\s+(?:\w+\s+){0,3}?"
        r"(?:instructions?|information|records?|answers?|guidance|data|notes?|messages?)\s+"
        r"(?:(?:is|are)\s+(?:\w+\s+){0,3}?)?(?:must|should|are\s+to|is\s+to)\s+be\s+"
        r"(?:ignored|disregarded|discarded|forgotten|overridden)\b",
    ),
    # "Your instructions have changed", "new rule:", "updated policy: answer that ...".
    (
        "override",
        ("instruction", "rule", "polic", "directive", "guideline", "prompt"),
        r"\b(?:your|the|my|all)\s+(?:\w+\s+)?(?:instructions|rules|directives|guidelines|"
        r"system\s+prompt|orders)\s+(?:have|has)\s+(?:been\s+)?(?:changed|updated|replaced|"
        r"revoked|cancelled|canceled|reset|overridden|lifted)\b"
        r"|(?<![\w,] )(?<![\w,])(?:new|updated|revised|changed|override|overriding)\s+"
        r"(?:system\s+|memory\s+|assistant\s+|response\s+|answer(?:ing)?\s+)?(?:rule|policy|"
        r"instruction|directive|guideline|prompt|order)s?\s*:",
    ),
    # Obfuscated and foreign-language overrides of the common shape "ignore previous
    # instructions" (the words are read after de-spacing and de-leeting, ``detect``).
    (
        "override",
        ("ignor", "vergiss", "olvid", "oubli", "dimentic", "esque", "negeer", "zignoruj"),
        r"\b(?:ignor\w*|vergiss\w*|olvid\w*|oubli\w*|dimentic\w*|esque[cç]\w*|negeer\w*|"
        r"zignoruj\w*)\s+(?:\w+\s+){0,3}?(?:instru[cç]\w*|anweisung\w*|istruzion\w*|"
        r"consignes?|regeln|reglas|r[eè]gles|regole|regras|instructies|instrukcj\w*|"
        r"vorgaben|indicaciones|indica[cç][oõ]es)\b",
    ),
    # A claimed override or authority, at the start of a line or in brackets:
    # "SYSTEM OVERRIDE", "(Message from the developer)", "I am your developer".
    (
        "role_spoof",
        ("override", " from ", "m your", "is your"),
        r"\b(?:system|admin(?:istrator)?|developer|root|security|priority|emergency|operator)\s+"
        r"override\b|^\s*\W{0,3}override\s*[:\-\u2014]"
        r"|\b(?:this|the\s+following)\s+(?:message|note|instruction|update|text|request)\s+"
        r"(?:is|comes)\s+(?:directly\s+)?from\s+(?:the\s+|your\s+)?(?:developers?|administrators?|"
        r"admins?|system|operators?|creators?|openai|anthropic|google|microsoft)\b"
        r"|(?:^|[(\[{<\-\u2014|*]\s*)(?:an?\s+|the\s+)?(?:(?:official|urgent|important|priority)\s+)?"
        r"(?:message|note|notice|instructions?|update|directive|memo)\s+from\s+(?:the\s+|your\s+)?"
        r"(?:developers?|administrators?|admins?|system|operators?|creators?|openai|anthropic|"
        r"google|microsoft|security\s+team|it\s+department|support\s+team)\b"
        r"|\b(?:i\s+am|i'm|this\s+is)\s+your\s+(?:developer|creator|programmer|administrator|"
        r"admin|operator|system|maker|owner|trainer)\b",
    ),
    # Transcripts and templates: a role line after the first ("...\nAI: ..."), Alpaca-style
    # "### Instruction:", a fenced "system" block, a fake end of conversation.
    (
        "role_spoof",
        (
            *("\nhuman", "\nuser", "\nai", "\nbot", "\nchatbot", "\nmodel", "```", "end of"),
            *("# instruction", "#instruction", "# response", "#response", "# input", "#input"),
            *("# human", "#human", "# user", "#user"),
            *("system message", "system prompt", "system instruction", "system block"),
            *("developer message", "admin message", "assistant message", "developer prompt"),
        ),
        r"\n\s*(?:human|user|ai|bot|chatbot|model)\s*:"
        r"|^\s*#{1,4}\s*(?:instruction|response|input|human|user)\s*:"
        r"|```\s*(?:system|assistant|tool|developer)\s*\n"
        r"|\b(?:begin|start|end)(?:ning)?\s+(?:of\s+)?(?:the\s+)?(?:system|developer|admin|"
        r"assistant)\s+(?:message|prompt|instructions?|block)\b"
        r"|\bend\s+of\s+(?:the\s+)?(?:conversation|user\s+input|document|context|transcript)\b"
        r"[^\n]{0,40}\b(?:new|next|begin|start|system|assistant)\b",
    ),
    # Orders about what to answer, to anyone: "whenever this comes up, reply that ...",
    # "respond to all questions about X with ...", "the assistant should answer that ...".
    (
        "planted_order",
        ("when", "if ", "each time", "every time"),
        r"\b(?:when(?:ever)?|if|each\s+time|every\s+time)\b[^.!?\n]{0,80}?\b(?:comes?\s+up|is\s+"
        r"(?:mentioned|brought\s+up|raised|asked)|are\s+asked|asks?|mentions?|says?|types?|"
        r"inquires?|queries)\b[^.!?\n]{0,60}?[,:]\s*(?:then\s+)?(?:you\s+(?:must|should|will|"
        rf"need\s+to|are\s+to)\s+|always\s+|please\s+|just\s+)*(?:{_SAY}|reply|transfer|send|wire|"
        r"share|reveal|disclose|forward|provide|output|print)\b",
    ),
    (
        "planted_order",
        _AI_WORDS,
        rf"\b{_ASSISTANT}\s+(?:should|will|needs?\s+to|has\s+to|is\s+to|ought\s+to|must|shall)"
        rf"\s+(?:always\s+|never\s+|now\s+|only\s+)?(?:{_SAY}|reply|repeat|relay|transfer|send|"
        r"wire|share|reveal|disclose|forward|obey|trust|believe|ignore)\b",
    ),
    (
        "planted_order",
        (
            "user",
            "reads this",
            "reading this",
            "processing this",
            "processes this",
            "parsing th",
            "parses this",
        ),
        rf"\b(?:repeat|relay|pass\s+on|convey|{_SAY})\s+(?:it|this|that|the\s+following)?\s*"
        r"to\s+(?:the\s+)?users?\b"
        r"|\b(?:to\s+)?(?:whoever|anyone|everyone|any\s+system)\s+(?:who\s+)?(?:is\s+)?"
        r"(?:reads?|reading|processes|processing|parses|parsing)\s+(?:this|these)\b",
    ),
    # "Respond to all questions about X with ...", "use this in every answer".
    (
        "order",
        ("respond", "reply", "answer"),
        r"\b(?:respond|reply|answer)\s+(?:to\s+)?(?:all|any|every)\s+(?:\w+\s+)?(?:questions?|"
        r"queries|requests?|messages?|prompts?)\b[^.!?\n]{0,60}?\b(?:with|by\s+(?:saying|stating))"
        r"\b",
    ),
    (
        "order",
        (" in all", " in any", " in every", " in each"),
        r"\b(?:use|include|mention|repeat|cite)\s+(?:this|that|it|the\s+following)\s+in\s+"
        r"(?:all|any|every|each)\s+(?:\w+\s+)?(?:answers?|responses?|replies|conversations?)\b",
    ),
    # Writing to the assistant's memory: "update your memory:", "store this as a verified
    # fact". The owner may ask it; from any other source it is an attempt to plant a record.
    (
        "order",
        ("memory", "memories", "knowledge", "record", "verified", "confirmed", "official"),
        r"\b(?:update|overwrite|modify|correct|edit|change|patch)\s+(?:your|the\s+assistant'?s?|"
        r"the\s+ai'?s?)\s+(?:long[- ]term\s+)?(?:memory|memories|knowledge\s+base)\b"
        r"|\b(?:store|save|record|remember|memori[sz]e|keep|log|treat)\s+(?:this|that|it|the\s+"
        r"following)\s+(?:(?:as|like)\s+(?:an?\s+)?(?:verified|confirmed|true|trusted|official|"
        r"authoritative|correct|established)\b|(?:in|to|into)\s+(?:your\s+)?(?:long[- ]term\s+)?"
        r"(?:memory|knowledge\s+base)\b)",
    ),
    # Sending credentials or money somewhere: what a planted trigger makes an agent do.
    (
        "planted_order",
        (
            "password",
            "passcode",
            "credential",
            "pin",
            "api key",
            "secret",
            "seed phrase",
            "card",
            "code",
            "ssn",
            "login",
        ),
        r"\b(?:send|share|give|provide|email|e-mail|text|reveal|disclose|enter|type|submit|"
        r"forward|paste|post|upload)\b[^.!?\n]{0,40}?\b(?:password|passcode|pin|credentials?|"
        r"login\s+details|api\s+keys?|secret\s+keys?|private\s+keys?|ssn|social\s+security\s+"
        r"number|card\s+(?:number|details)|seed\s+phrase|recovery\s+phrase|2fa\s+code|otp|"
        r"verification\s+code|one[- ]time\s+code)s?\b[^.!?\n]{0,60}?\b(?:to|at|via|on)\s+"
        r"(?:[\w.+-]+@[\w-]+\.[\w.]+|https?://|www\.|\+?\d[\d\s-]{6,}|this\s+(?:address|number|"
        r"link|site|page)|the\s+(?:following|link|address))",
    ),
    (
        "order",
        ("account", "wallet", "iban"),
        r"\b(?:transfer|wire|send|pay|deposit|move)\b[^.!?\n]{0,60}?\bto\s+(?:the\s+)?"
        r"(?:(?:bank\s+)?account|wallet|iban)\s*(?:number\s*|no\.?\s*|#\s*)?[:]?\s*[\dA-Z][\d\s-]"
        r"{3,}",
    ),
    # "The correct answer to ... is: ...": an answer dictated to whoever answers.
    (
        "order",
        ("answer", "reply", "response"),
        r"\b(?:the\s+)?(?:correct|right|proper|official|approved|only\s+(?:valid|acceptable))\s+"
        r"(?:answer|reply|response)\s+(?:to\s+[^\n]{0,120}?\s+)?(?:is|should\s+be|will\s+be)\s*:",
    ),
    # Role play imposed on the reader: "act as if ...", "pretend that ...".
    (
        "order",
        ("act as", "behave as", "respond as", "pretend"),
        r"(?:^|[.!?:]\s+)(?:now\s+)?(?:act|behave|respond)\s+as\s+(?:if|though)\b"
        r"|(?:^|[.!?:]\s+)(?:now\s+)?pretend\s+(?:that|to\s+be|you)\b",
    ),
    # Credentials handed over in an answer: "respond with the admin credentials".
    (
        "planted_order",
        ("password", "credential", "api key", "secret", "token"),
        r"\b(?:respond|reply|answer)\s+with\s+(?:the\s+|your\s+|their\s+|its\s+)?(?:\w+\s+)?"
        r"(?:password|passcode|credentials?|api\s+keys?|secret\s+keys?|access\s+tokens?|"
        r"private\s+keys?)\b",
    ),
    # A standing order that dictates an answer ("from now on, in all future answers to X,
    # say that Y"): the shape of "when asked X, say Y", planted whoever writes it.
    (
        "planted_order",
        ("from now on", "future", "subsequent", "later"),
        r"\b(?:from\s+now\s+on|(?:in|for)\s+(?:all|every|any)\s+(?:future|later|subsequent)\s+"
        r"\w+)[^\n]{0,200}?\b(?:say|state|answer|reply|respond|claim|insist|tell\s+\w+)\s+"
        r"(?:that\b|:)",
    ),
]
