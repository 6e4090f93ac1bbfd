"""The answering wiring: where the classifier's decision meets the knowledge base's answers.

The classifier never sees the knowledge base and the knowledge base never sees a model; these
functions pass one's result to the other, record what was answered, and hand the settings
checker a question that reads like pasted settings.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from urllib.parse import urljoin

from flask import current_app, request, url_for

import kb
from classifier import model as intent_model
from classifier.data import OUT_OF_SCOPE
from classifier.model import Prediction
from kb.answers import CLARIFY, FALLBACK, link_title
from kb.search import search
from mailclient.checkinput import mention_check, settings_in_question
from replies.message import CustomerMessage, clean_message
from replies.reply import FORMATS as REPLY_FORMATS
from replies.reply import Reply, compose_reply
from web.errors import InputError
from web.events import new_search_ref, record_answer, record_search
from web.state import Knowledge, knowledge

log = logging.getLogger(__name__)


def run_search(text: str, limit: int, page: int):
    """Search the knowledge base and record the search; return the results and the search's ref."""
    base = knowledge().base
    results = search(
        base.index, base.library, base.normalizer, text, limit=limit, page=page, article_url=base.article_url
    )
    ref = new_search_ref()
    record_search(text, results.total, ref)
    return results, ref


@dataclass(frozen=True)
class Answered:
    """A question answered: the classifier's prediction, and the answer the person got.

    The answer has the last word. Where the policy answered a question the classifier had
    routed elsewhere or given up on ("can I use port 110?" answered with the POP3 policy), the
    intent, confidence and fallback flag reported and recorded are those of the answer given.
    """

    prediction: Prediction
    answer: kb.Answer

    @property
    def fallback(self) -> bool:
        """Tell whether the person got the fallback ("I don't know") answer."""
        return self.answer.intent == FALLBACK

    @property
    def clarify(self) -> bool:
        """Tell whether the person was asked to choose between intents."""
        return self.answer.intent == CLARIFY

    @property
    def intent(self) -> str:
        """Return the intent answered: the top candidate of a clarifying question, out_of_scope for a fallback."""
        if self.clarify:
            return self.prediction.intent
        return OUT_OF_SCOPE if self.fallback else self.answer.intent

    @property
    def confidence(self) -> float:
        """Return the classifier's confidence in the intent answered."""
        if self.fallback or self.clarify or self.answer.intent == self.prediction.intent:
            return self.prediction.confidence
        return dict(self.prediction.ranking).get(self.answer.intent, 0.0)

    @property
    def choices(self) -> tuple[str, ...]:
        """Return the intents a clarifying question offered (none otherwise)."""
        return tuple(intent for intent, _ in self.prediction.ranking[:2]) if self.clarify else ()


def respond(question: str, current: Knowledge | None = None) -> Answered:
    """Classify a question and answer it, and record it: the one place where classifier and knowledge base meet."""
    current = current or knowledge()
    base = current.base
    prediction = intent_model.predict(current.model, base.normalizer.normalize(question))
    log.debug(
        "ask: %s %.3f fallback=%s clarify=%s",
        prediction.intent,
        prediction.confidence,
        prediction.fallback,
        prediction.clarify,
    )
    choices = tuple(intent for intent, _ in prediction.ranking[:2]) if prediction.clarify else ()
    answer = kb.answer(base, question, prediction.intent, fallback=prediction.fallback, choices=choices)
    answered = Answered(prediction, answer)
    record_answer(question, answered)
    return answered


def knowledge_args() -> tuple:
    base = knowledge().base
    return base.settings, base.library, base.article_url


def settings_check_for(question: str, answer):
    """Check a bot question that reads like pasted settings; return the answer mentioning it, and the check."""
    result = settings_in_question(question, *knowledge_args())
    if result is None:
        return answer, None
    mentioned = mention_check(answer, result, url_for("mailclient.check_page"), knowledge().base.article_url)
    return mentioned, result.as_dict()


ALTERNATIVES = 3


@dataclass(frozen=True)
class Alternative:
    """A runner-up intent an agent may pick instead."""

    intent: str
    label: str
    confidence: float


@dataclass(frozen=True)
class Draft:
    """A pasted message answered: what was read, the answer chosen, the alternatives, the replies."""

    message: CustomerMessage
    answer: kb.Answer
    label: str
    confidence: float
    fallback: bool
    chosen: bool
    alternatives: tuple[Alternative, ...]
    replies: dict[str, Reply]
    links: tuple[tuple[str, str], ...]
    # What the bot did with the message as it stands (the inbox records the same): asked the
    # customer to choose between these intents; the agent gets the first one's answer.
    clarify: tuple[Alternative, ...] = ()
    # The customer's name the reply greets: the agent's, or the one the customer signed with.
    customer_name: str = ""
    name_from_signature: bool = False


def draft_reply(
    text: str,
    *,
    intent: str | None,
    customer_name: str | None,
    agent_name: str | None,
    signature: str | None,
    base_url: str,
    formats: tuple[str, ...] = REPLY_FORMATS,
) -> Draft:
    """Read a pasted message, answer it (with the agent's choice of intent, if any) and write replies."""
    current = knowledge()
    base, answers = current.base, current.base.responses.answers
    if intent and intent not in answers:
        raise InputError(f"unknown intent '{intent}'")
    message = clean_message(text)
    if not message.text:
        raise InputError("nothing is left to answer once quoted mail and signatures are removed")
    question = message.text[: current_app.config["ASK_MAX_CHARS"]]
    answered = respond(question, current)
    prediction, answer = answered.prediction, answered.answer
    if intent or answered.clarify:
        # Agents get the answer itself, not the widget's clarifying question; they see the choices.
        answer = kb.answer(base, question, intent or prediction.intent)
    confidences = dict(prediction.ranking)
    offered = () if intent else answered.choices
    clarify = tuple(Alternative(i, base.responses.label(i), confidences.get(i, 0.0)) for i in offered)
    signed = message.name
    customer_name = (customer_name or "").strip() or signed
    confidence = prediction.confidence if answer.intent not in answers else confidences.get(answer.intent, 0.0)
    alternatives = tuple(
        Alternative(i, base.responses.label(i), c) for i, c in prediction.ranking if i in answers and i != answer.intent
    )[:ALTERNATIVES]
    replies = {
        fmt: compose_reply(
            answer,
            fmt,
            base_url=base_url,
            customer_name=customer_name,
            agent_name=agent_name,
            signature=signature,
            article_url=base.article_url,
        )
        for fmt in formats
    }
    links = tuple((link_title(link, " › "), urljoin(base_url, link.url)) for link in answer.articles)
    label = base.responses.label(answer.intent) if answer.intent in answers else "No confident match"
    return Draft(
        message,
        answer,
        label,
        confidence,
        answer.intent == FALLBACK,
        bool(intent),
        alternatives,
        replies,
        links,
        clarify,
        customer_name,
        bool(signed) and customer_name == signed,
    )


def help_center_url() -> str:
    """Return the absolute root URL that links in replies start with."""
    configured = current_app.config["HELP_CENTER_URL"]
    return configured.rstrip("/") + "/" if configured else request.host_url
