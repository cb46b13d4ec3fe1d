"""A deterministic synthetic chat corpus: sessions of user/assistant turns about a person's life.

Turns are made from sentence templates filled with a vocabulary of names,
places, hobbies, foods, dates and numbers, one to six sentences each, so their
lengths and wording vary the way real chat does. Each session leans on a few
"focus" people, places and hobbies, as real conversations do. The stream is a
pure function of the seed: the first N turns of a longer corpus are exactly a
shorter corpus, which is what lets one embedding cache serve every size.
"""

from __future__ import annotations

import functools
import random
import string
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta


def _words(text: str) -> list[str]:
    return text.split()


NAMES = _words("""
Priya Marco Aisha Tomasz Mei Lucas Fatima Oskar Ingrid Kwame Sofia Rahul Elena Diego Hana Jonas
Amara Mateo Yuki Nikolai Chloe Omar Leila Felix Zainab Hugo Anouk Tariq Bianca Soren Camille Ravi
Nadia Emil Lucia Kenji Maya Idris Greta Pablo Noor Anton Clara Ibrahim Freya Sanjay Olga Theo
Rosa Malik Astrid Joon Valentina Kofi Helena Arjun Beatriz Lars Imani Viktor
""")

PLACES = _words("""
Lisbon Kyoto Nairobi Oslo Montreal Porto Seoul Krakow Lima Hanoi Reykjavik Marrakesh Bologna
Edinburgh Tbilisi Cusco Vienna Istanbul Valparaiso Copenhagen Bangalore Dubrovnik Havana Osaka
Seville Tallinn Chiang-Mai Zanzibar Bruges Melbourne Vancouver Ljubljana Cartagena Helsinki
Athens Quebec Granada Sapporo Budapest Wellington Prague Jaipur Accra Salzburg Antigua Dakar
""")

HOBBIES = [
    "rock climbing",
    "pottery",
    "sourdough baking",
    "trail running",
    "chess",
    "birdwatching",
    "watercolor painting",
    "salsa dancing",
    "bouldering",
    "knitting",
    "astrophotography",
    "kayaking",
    "woodworking",
    "playing the cello",
    "learning Japanese",
    "gardening",
    "surfing",
    "calligraphy",
    "board games",
    "fly fishing",
    "yoga",
    "cycling",
    "jazz piano",
    "scuba diving",
    "film photography",
    "embroidery",
    "home brewing",
    "skateboarding",
    "origami",
    "fencing",
    "open-water swimming",
    "beekeeping",
    "cross-country skiing",
    "improv theatre",
    "archery",
    "restoring old bikes",
    "writing poetry",
    "mountain biking",
    "ceramics",
    "tango",
]

FOODS = [
    "ramen",
    "pasteis de nata",
    "mole",
    "pho",
    "paella",
    "khachapuri",
    "injera",
    "dim sum",
    "ceviche",
    "pierogi",
    "tagine",
    "bibimbap",
    "risotto",
    "shakshuka",
    "laksa",
    "empanadas",
    "goulash",
    "okonomiyaki",
    "falafel",
    "banh mi",
    "jollof rice",
    "pad thai",
    "gnocchi",
    "tacos",
    "baklava",
    "katsu curry",
    "poutine",
    "churros",
    "dumplings",
    "lasagna",
    "sushi",
    "arepas",
    "borscht",
    "biryani",
    "moussaka",
    "croissants",
    "tiramisu",
    "kimchi stew",
    "fish and chips",
]

RELATIONS = _words("""
sister brother cousin coworker neighbour roommate manager friend aunt uncle mentor partner
niece nephew grandmother landlord teammate dentist
""")

PETS = _words("""cat dog parrot rabbit hamster tortoise goldfish gecko""")

PROJECTS = _words("""
Atlas Beacon Cobalt Delta Ember Falcon Granite Harbor Juniper Keystone Lantern Meridian
Nimbus Orchid Pinnacle Quartz Riverbend Summit Tundra Vertex
""")

LANDMARKS = [
    "the old train station",
    "the harbour",
    "the botanical garden",
    "the cathedral",
    "the central market",
    "the university",
    "the riverside park",
    "the castle",
    "the museum",
    "the lighthouse",
    "the main square",
    "the night market",
]

MONTHS = _words("""
January February March April May June July August September October November December
""")

WEEKDAYS = _words("Monday Tuesday Wednesday Thursday Friday Saturday Sunday")

USER_SENTENCES = [
    "I went {hobby} with {name} near {place} last {weekday}.",
    "My {relation} {name} just started {hobby} and loves it.",
    "Remind me that {name}'s birthday is on {date}.",
    "We had amazing {food} at a tiny place near {landmark} in {place}.",
    "I'm thinking about a trip to {place} in {month}; {name} might come too.",
    "Work is stressful: the {project} project deadline moved to {date}.",
    "{name} recommended a {food} spot in {place}, but I haven't tried it yet.",
    "I adopted a {pet} named {petname} on {date}.",
    "My {pet} {petname} has a vet appointment at {time} on {weekday}.",
    "I've been doing {hobby} for {number} years now.",
    "Honestly I hate {food}, please never suggest it.",
    "{name} and I are planning to move to {place} next year.",
    "I paid ${amount} for the {hobby} class, which felt like a lot.",
    "My {relation} lives in {place} and I visit every {month}.",
    "Can you help me plan a {hobby} weekend in {place}?",
    "The {project} launch is on {date} and {name} is presenting.",
    "I ran {number} kilometres this morning before work.",
    "Note that I'm allergic to {ingredient}.",
    "I met {name} at a {hobby} meetup in {place}.",
    "Last {month} we celebrated {name}'s promotion with {food}.",
    "I keep forgetting to call my {relation} {name} back.",
    "My flight to {place} leaves at {time} on {date}.",
    "I want to get better at {hobby} before {month}.",
    "Dinner with {name} on {weekday}: they want {food}.",
]

ASSISTANT_SENTENCES = [
    "That sounds lovely; {place} is beautiful in {month}.",
    "Noted: {name}'s birthday is {date}. Want a reminder a week before?",
    "For {hobby}, starting with {number} minutes a day usually helps.",
    "Good luck with the {project} deadline on {date}!",
    "I'll remember that you don't like {food}.",
    "If you're in {place}, the area around {landmark} is great for {hobby}.",
    "{petname} sounds adorable. How is the {pet} settling in?",
    "Got it, I've saved your flight to {place} at {time}.",
    "You could invite {name} along; you mentioned they enjoy {hobby}.",
    "A budget of ${amount} seems reasonable for that.",
    "I'll keep your {ingredient} allergy in mind for food suggestions.",
    "Would you like a few {food} places near {landmark}?",
    "That's a great pace: {number} kilometres is impressive.",
    "Here is a simple plan: {hobby} on {weekday}, rest on the weekend.",
    "Sure. Do you want me to draft a message to your {relation}?",
]

FILLERS = [
    "ok thanks!",
    "haha yes",
    "sounds good",
    "perfect, thank you",
    "hmm, let me think",
    "sure",
    "that works",
    "great idea",
    "no worries",
    "yes please",
    "not really",
    "makes sense",
]

INGREDIENTS = _words("peanuts shellfish gluten sesame lactose eggs soy cashews mustard kiwi")
PETNAMES = _words("Biscuit Miso Pepper Luna Mochi Ziggy Clove Nori Pickles Waffles Juno Tofu")

QUESTION_TEMPLATES = [
    "When is {name}'s birthday?",
    "Where did I eat {food} with {name}?",
    "What did I say about {hobby} in {place}?",
    "Which city was I planning to visit in {month}?",
    "When is the {project} project deadline?",
    "What is my {pet} called and when is its vet visit?",
    "How long have I been doing {hobby}?",
    "What am I allergic to?",
    "Where does my {relation} live?",
    "Who did I meet at the {hobby} meetup?",
    "What time is my flight to {place}?",
    "Which foods do I dislike, like {food}?",
    "How much did the {hobby} class cost?",
    "Who recommended the {food} place in {place}?",
    "What did {name} want for dinner on {weekday}?",
    "Who is presenting at the {project} launch?",
    "Did {name} ever try {hobby} near {landmark}?",
    "What did we celebrate in {month} with {food}?",
    "Is {name} moving to {place} with me?",
    "What plans did I make with my {relation} {name}?",
]

# How many sentences a turn has, and how often (a few long turns, mostly short ones).
SENTENCE_COUNTS = (1, 2, 3, 4, 6)
SENTENCE_WEIGHTS = (36, 32, 18, 9, 5)
FILLER_SHARE = 0.08
FOCUS_SHARE = 0.7
START = datetime(2023, 1, 2, 9, 0, tzinfo=UTC)


VOCABULARY: dict[str, Sequence[str]] = {
    "name": NAMES,
    "place": PLACES,
    "hobby": HOBBIES,
    "food": FOODS,
    "relation": RELATIONS,
    "pet": PETS,
    "petname": PETNAMES,
    "project": PROJECTS,
    "landmark": LANDMARKS,
    "month": MONTHS,
    "weekday": WEEKDAYS,
    "ingredient": INGREDIENTS,
}


@functools.cache
def _fields(template: str) -> tuple[str, ...]:
    return tuple(dict.fromkeys(f for _, f, _, _ in string.Formatter().parse(template) if f))


@dataclass(frozen=True)
class Session:
    session_id: str
    messages: tuple[dict[str, str], ...]

    @property
    def texts(self) -> list[str]:
        return [m["content"] for m in self.messages]


class _Filler:
    """Draws template slots, preferring the session's focus vocabulary."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.focus = {
            "name": rng.sample(NAMES, 3),
            "place": rng.sample(PLACES, 2),
            "hobby": rng.sample(HOBBIES, 2),
            "food": rng.sample(FOODS, 2),
        }

    def pick(self, slot: str, pool: Sequence[str]) -> str:
        focus = self.focus.get(slot)
        if focus and self.rng.random() < FOCUS_SHARE:
            return self.rng.choice(focus)
        return self.rng.choice(pool)

    def date(self) -> str:
        day = START + timedelta(days=self.rng.randrange(0, 1000))
        styles = (f"{day:%B} {day.day}", f"{day:%Y-%m-%d}", f"{day:%A, %B} {day.day}")
        return self.rng.choice(styles)

    def slot(self, name: str) -> str:
        rng = self.rng
        if name in VOCABULARY:
            return self.pick(name, VOCABULARY[name])
        if name == "date":
            return self.date()
        if name == "time":
            return f"{rng.randrange(5, 23)}:{rng.choice(('00', '15', '30', '45'))}"
        if name == "number":
            return str(rng.randrange(2, 40))
        return str(rng.randrange(15, 900))  # amount

    def fill(self, template: str) -> str:
        return template.format(**{name: self.slot(name) for name in _fields(template)})

    def turn(self, templates: Sequence[str]) -> str:
        if self.rng.random() < FILLER_SHARE:
            return self.rng.choice(FILLERS)
        count = self.rng.choices(SENTENCE_COUNTS, SENTENCE_WEIGHTS)[0]
        return " ".join(self.fill(t) for t in self.rng.sample(templates, count))


def _session(rng: random.Random, index: int, turns: int) -> Session:
    filler = _Filler(rng)
    start = START + timedelta(hours=7 * index + rng.randrange(0, 6))
    messages = []
    for position in range(turns):
        role = "user" if position % 2 == 0 else "assistant"
        templates = USER_SENTENCES if role == "user" else ASSISTANT_SENTENCES
        at = start + timedelta(seconds=40 * position)
        messages.append(
            {"role": role, "content": filler.turn(templates), "timestamp": at.isoformat()}
        )
    return Session(session_id=f"s{index:06d}", messages=tuple(messages))


def sessions(total_turns: int, turns_per_session: int, seed: int) -> Iterator[Session]:
    """Sessions of ``turns_per_session`` turns (the last may be shorter), ``total_turns`` in all."""
    rng = random.Random(seed)
    index = 0
    while index * turns_per_session < total_turns:
        turns = min(turns_per_session, total_turns - index * turns_per_session)
        yield _session(rng, index, turns)
        index += 1


def queries(count: int, seed: int, exclude: set[str]) -> list[str]:
    """``count`` distinct questions, none of them a stored turn, so no cache can answer them."""
    rng = random.Random(seed + 1_000_003)
    found: dict[str, None] = {}
    while len(found) < count:
        filler = _Filler(rng)
        text = filler.fill(rng.choice(QUESTION_TEMPLATES))
        if text not in exclude:
            found.setdefault(text, None)
    return list(found)
