"""Prompts of the QA step of ``remem eval --qa``, kept apart from the code that sends them.

The answer prompt follows the usual memory-QA setup (short answers from dated memories,
an explicit "not mentioned" when they do not hold the answer, which is also the phrase
LoCoMo's own scorer looks for). The judges follow Mem0's LLM-as-judge (generous
CORRECT/WRONG against the gold answer) and LongMemEval's abstention check (CORRECT when
the answer recognises the question cannot be answered).
"""

from __future__ import annotations

NOT_MENTIONED = "Not mentioned in the conversation"

ANSWER_SYSTEM = f"""\
You answer questions about a long conversation, using only memories retrieved from it.
Each memory is one message, with the date it was written and who wrote it.
- Use only these memories; do not guess or use outside knowledge.
- Turn relative times ("yesterday", "last year") into actual dates using the memory's date.
- When memories disagree, trust the most recent one.
- If the memories do not contain the answer, reply exactly: {NOT_MENTIONED}.
- Reply with a short phrase (a few words), without explanations."""

ANSWER_USER = """\
Memories, oldest first:
{context}

{asked_on}Question: {question}
Answer:"""

JUDGE_ANSWERABLE = """\
You grade the answer of a memory assistant. You get a question about an earlier \
conversation, the gold answer and the generated answer, and label the generated answer \
CORRECT or WRONG.

Grade generously. The generated answer may be longer or worded differently: it is CORRECT \
when it is about the same thing as the gold answer. For questions about time it is CORRECT \
when it names the same date or period, whatever the format ("7 May" and "May 7th") or when \
its relative reference comes to the same date. It is WRONG when it names something else, \
misses what the gold answer says, or claims the information is not available.

Question: {question}
Gold answer: {gold}
Generated answer: {answer}

Reply with a JSON object: "reasoning" (one short sentence), then "label" (CORRECT or WRONG)."""

JUDGE_UNANSWERABLE = """\
You grade the answer of a memory assistant. The question below cannot be answered from the \
earlier conversation; the explanation says why. The generated answer is CORRECT when it says \
the information is not available, not mentioned or incomplete (it may mention related \
information that is available). It is WRONG when it answers as if the information were known.

Question: {question}
Explanation: {explanation}
Generated answer: {answer}

Reply with a JSON object: "reasoning" (one short sentence), then "label" (CORRECT or WRONG)."""

#: LoCoMo's adversarial questions carry a tempting wrong answer, not a gold one.
LOCOMO_ADVERSARIAL = "the conversation never says this; the tempting wrong answer is {trap!r}"
NOT_IN_CONVERSATION = "the conversation does not contain this information"
