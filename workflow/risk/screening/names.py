"""Name matching for watch-list screening (名单筛查), offline.

A name is folded to a *core* before it is compared: full-width to half-width (NFKC),
lower case, traditional to simplified (OpenCC ``t2s``), punctuation and spaces
dropped, legal-form words (有限公司, 股份, 集团, Co., Ltd. …) and a leading region
(广东省, 深圳市, Shenzhen …) removed. The core's pinyin (pypinyin, phrase-aware,
no tones) lets a romanised name meet a Chinese one.

Two cores are scored 0–100 and the path that gave the score is named:
``exact`` (same text), ``normalized`` (same after folding, or close characters),
``traditional`` (the same once traditional characters are simplified),
``pinyin`` (the same sound or the same romanisation) and ``alias`` (any of these
against one of the entry's aliases). A romanisation never reaches ``certain`` on
its own: many Chinese names share one spelling.

:class:`NameIndex` finds candidates without scanning every entry: an inverted index
of character bigrams of the core and letter trigrams of its pinyin, where very
common keys are read last and capped, so one query reads a few posting lists.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from array import array
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import opencc
from pypinyin import lazy_pinyin
from pypinyin.phrases_dict import phrases_dict
from pypinyin.pinyin_dict import pinyin_dict
from rapidfuzz import fuzz

from workflow.errors import ConfigurationError

PATHS = ("exact", "normalized", "traditional", "pinyin", "alias")

# Longest first, so 有限责任公司 goes before 有限公司 and 公司.
_CJK_LEGAL = sorted(
    (
        "股份有限公司",
        "有限责任公司",
        "有限公司",
        "股份公司",
        "集团公司",
        "总公司",
        "分公司",
        "公司",
        "集团",
        "股份",
        "控股",
        "有限",
        "责任",
        "合伙企业",
        "普通合伙",
        "有限合伙",
        "个体工商户",
        "工作室",
        "经营部",
    ),
    key=len,
    reverse=True,
)
_LATIN_LEGAL = frozenset(
    [
        "co",
        "company",
        "corp",
        "corporation",
        "inc",
        "incorporated",
        "ltd",
        "limited",
        "llc",
        "plc",
        "gmbh",
        "ag",
        "sa",
        "bv",
        "group",
        "holding",
        "holdings",
        "the",
        "and",
        "of",
        "jt",
        "stock",
        "joint",
        "liability",
        "pte",
    ]
)
# Industry words a romanised name usually translates rather than spells out.
_LATIN_WORDS = {
    "technology": "keji",
    "technologies": "keji",
    "tech": "keji",
    "sci": "keji",
    "trading": "maoyi",
    "trade": "maoyi",
    "investment": "touzi",
    "investments": "touzi",
    "electronics": "dianzi",
    "electronic": "dianzi",
    "construction": "jianshe",
    "bank": "yinhang",
    "industrial": "shiye",
    "industry": "shiye",
    "development": "fazhan",
    "logistics": "wuliu",
    "pharmaceutical": "yiyao",
    "energy": "nengyuan",
    "machinery": "jixie",
    "chemical": "huagong",
    "network": "wangluo",
    "software": "ruanjian",
    "international": "guoji",
    "industries": "shiye",
    "china": "zhongguo",
    "automobile": "qiche",
    "auto": "qiche",
    "motor": "qiche",
    "motors": "qiche",
    "communication": "tongxun",
    "communications": "tongxun",
    "information": "xinxi",
    "insurance": "baoxian",
    "securities": "zhengquan",
    "steel": "gangtie",
    "airlines": "hangkong",
    "shipping": "haiyun",
}
# Words written either way in Chinese names: a translation of either (Huawei
# Technologies, 华为技术) is also compared with the pinyin of the other word.
_CJK_SYNONYMS = {"技术": "科技"}
# Words that do not name a company on their own (上海银行 is a bank's whole name).
_GENERIC_WORDS = frozenset(
    [
        "银行",
        "商业银行",
        "农村商业银行",
        "农商银行",
        "科技",
        "贸易",
        "实业",
        "投资",
        "证券",
        "保险",
        "信托",
        "电子",
        "物流",
        "建设",
        "医药",
        "能源",
        "传媒",
        "食品",
        "发展",
        "控股",
        "电力",
        "燃气",
        "水务",
        "地铁",
        "港务",
        "机场",
        "航空",
        "钢铁",
        "化工",
        "建工",
        "城投",
    ]
)
_COMPOUND_SURNAMES = frozenset(
    [
        "欧阳",
        "司马",
        "诸葛",
        "上官",
        "东方",
        "皇甫",
        "尉迟",
        "公孙",
        "慕容",
        "令狐",
        "长孙",
        "宇文",
        "司徒",
        "夏侯",
        "轩辕",
        "端木",
        "独孤",
        "南宫",
        "西门",
    ]
)
_PROVINCES = [
    "北京",
    "天津",
    "上海",
    "重庆",
    "河北",
    "山西",
    "辽宁",
    "吉林",
    "黑龙江",
    "江苏",
    "浙江",
    "安徽",
    "福建",
    "江西",
    "山东",
    "河南",
    "湖北",
    "湖南",
    "广东",
    "海南",
    "四川",
    "贵州",
    "云南",
    "陕西",
    "甘肃",
    "青海",
    "台湾",
    "内蒙古",
    "广西",
    "西藏",
    "宁夏",
    "新疆",
    "香港",
    "澳门",
]
_CITIES = [
    "深圳",
    "广州",
    "杭州",
    "南京",
    "苏州",
    "成都",
    "武汉",
    "西安",
    "长沙",
    "郑州",
    "青岛",
    "宁波",
    "厦门",
    "大连",
    "沈阳",
    "哈尔滨",
    "长春",
    "济南",
    "合肥",
    "福州",
    "昆明",
    "南宁",
    "贵阳",
    "南昌",
    "太原",
    "石家庄",
    "兰州",
    "银川",
    "西宁",
    "乌鲁木齐",
    "拉萨",
    "呼和浩特",
    "海口",
    "三亚",
    "无锡",
    "常州",
    "佛山",
    "东莞",
    "珠海",
    "中山",
    "惠州",
    "温州",
    "绍兴",
    "嘉兴",
    "金华",
    "台州",
    "烟台",
    "潍坊",
    "泉州",
    "徐州",
    "南通",
]
_REGION_SUFFIXES = ("维吾尔自治区", "壮族自治区", "回族自治区", "自治区", "特别行政区", "省", "市")
_REGIONS = sorted(_PROVINCES + _CITIES, key=len, reverse=True)
_LATIN_REGIONS = frozenset("".join(lazy_pinyin(r)) for r in _REGIONS) | {
    "peking",
    "canton",
    "hongkong",
    "hk",
    "macau",
}
_BRACKETED_REGION = re.compile(r"\((?:" + "|".join(_REGIONS) + r")[^)]*\)")
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_DROP = re.compile(r"[\W_]+", re.UNICODE)  # after NFKC: punctuation, symbols, spaces
_LATIN_TOKEN = re.compile(r"[a-z0-9]+")
_BRACKETS = str.maketrans({"（": "(", "）": ")", "【": "(", "】": ")"})
# A key read by more entries than this is used only when nothing rarer is in the name.
_COMMON_KEY = 20_000
_CANDIDATES = 200
_POSTINGS_BUDGET = 30_000
_SHARED_KEYS = 0.34
# Folded names kept by :func:`fold` (some 450 bytes each: under 2 MB).
_FOLD_CACHE = 4_096

_t2s = opencc.OpenCC("t2s")


@dataclass(frozen=True)
class Thresholds:
    """Scores from ``certain`` are treated as a listing; from ``possible`` a human looks."""

    certain: int = 95
    possible: int = 85

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any] | None) -> Thresholds:
        """``RISKLOOP_NAME_MATCH_CERTAIN`` / ``RISKLOOP_NAME_MATCH_POSSIBLE`` (1–100).

        Raises:
            ConfigurationError: not a whole number from 1 to 100, or possible above certain.
        """
        values = settings or {}

        def read(key: str, default: int) -> int:
            raw = values.get(key)
            if raw in (None, ""):
                return default
            try:
                number = int(str(raw).strip())
            except ValueError:
                number = 0
            if not 1 <= number <= 100:
                raise ConfigurationError(f"{key} must be a whole number from 1 to 100, got {raw!r}")
            return number

        certain = read("RISKLOOP_NAME_MATCH_CERTAIN", cls.certain)
        possible = read("RISKLOOP_NAME_MATCH_POSSIBLE", cls.possible)
        if possible > certain:
            raise ConfigurationError(
                f"RISKLOOP_NAME_MATCH_POSSIBLE ({possible}) must not be above "
                f"RISKLOOP_NAME_MATCH_CERTAIN ({certain})"
            )
        return cls(certain=certain, possible=possible)

    def certainty(self, score: int) -> str | None:
        if score >= self.certain:
            return "certain"
        return "possible" if score >= self.possible else None


@dataclass(frozen=True, slots=True)
class Folded:
    """A name folded for comparison."""

    text: str  # as written, spaces collapsed
    core: str  # simplified, legal forms and a leading region removed
    pinyin: str  # the core's pinyin (or romanisation) without tones or spaces
    region: str
    traditional: bool  # simplifying changed the name
    cjk: bool
    words: tuple[str, ...] = ()  # a short name's romanised words, for word-order variants
    alt_pinyin: str = ""  # the pinyin with synonyms (技术 → 科技) when that differs

    @property
    def empty(self) -> bool:
        return not self.core


@dataclass(frozen=True)
class Match:
    """A scored comparison: 0–100 and the path that gave it."""

    score: int
    path: str


@dataclass(frozen=True)
class Hit:
    """An index entry that matched a query name."""

    ref: int
    name: str
    score: int
    path: str


@functools.lru_cache(maxsize=65_536)
def _toneless(reading: str) -> str:
    decomposed = unicodedata.normalize("NFKD", reading).replace("u\u0308", "v")
    return "".join(c for c in decomposed if not unicodedata.combining(c)).lower()


@functools.cache
def _phrase_readings() -> dict[str, tuple[str, str]]:
    """Two-character words read otherwise than their characters' first readings (银行
    yin hang, not yin xing; 重庆 chong qing), from pypinyin's phrase dictionary."""
    fixes = {}
    for phrase, readings in phrases_dict.items():
        if len(phrase) == 2:
            pair = (_toneless(readings[0][0]), _toneless(readings[1][0]))
            if pair != (_char_reading(phrase[0]), _char_reading(phrase[1])):
                fixes[phrase] = pair
    return fixes


@functools.lru_cache(maxsize=32_768)
def _char_reading(char: str) -> str:
    reading = pinyin_dict.get(ord(char))
    return _toneless(reading.split(",")[0]) if reading else char


def _syllables(core: str) -> tuple[str, ...]:
    """The pinyin of each character: its first reading, corrected by two-character words.

    As good as pypinyin's phrase segmentation for names and some twenty times faster,
    which matters when a million entries are indexed.
    """
    out = [_char_reading(c) for c in core]
    fixes = _phrase_readings()
    for i in range(len(core) - 1):
        fix = fixes.get(core[i : i + 2])
        if fix is not None:
            out[i], out[i + 1] = fix
    return tuple(out)


def _pinyin(core: str) -> str:
    return "".join(_syllables(core))


def _strip_cjk(text: str) -> tuple[str, str]:
    """Remove legal-form words anywhere and leading regions (广东省深圳市); returns
    (core, the innermost region). A region is the name itself when only a generic word
    follows it (上海银行, 北京科技): then it stays."""
    for word in _CJK_LEGAL:
        text = text.replace(word, "")
    # A bracketed region inside the name, 华强科技(深圳): dropped like a leading one.
    text = _DROP.sub("", _BRACKETED_REGION.sub("", text))
    region = ""
    stripped = True
    while stripped:
        stripped = False
        for name in _REGIONS:
            if text.startswith(name):
                rest = text[len(name) :]
                for suffix in _REGION_SUFFIXES:
                    if rest.startswith(suffix):
                        rest = rest[len(suffix) :]
                        break
                if len(rest) >= 2 and rest not in _GENERIC_WORDS:
                    region, text, stripped = name, rest, True
                break
    return text, region


def _strip_latin(text: str) -> tuple[str, str]:
    tokens = _LATIN_TOKEN.findall(text)
    region = ""
    if len(tokens) > 1 and tokens[0] in _LATIN_REGIONS:
        region = tokens.pop(0)
    words = [_LATIN_WORDS.get(t, t) for t in tokens if t not in _LATIN_LEGAL]
    return " ".join(words), region


@functools.lru_cache(maxsize=_FOLD_CACHE)
def fold(name: str) -> Folded:
    """Fold ``name`` for comparison; an empty or punctuation-only name folds to an empty
    core, which never matches anything. Cached: a name screened again (an admission, its
    persons, the form shown again) is folded once."""
    return fold_once(name)


def fold_once(name: str) -> Folded:
    """:func:`fold` without the cache, for a pass that folds each of many names once (an
    index build, a re-screen of every active client): caching those would only hold
    ``_FOLD_CACHE`` names nobody asks for again and push out the ones that repeat."""
    text = unicodedata.normalize("NFKC", (name or "").translate(_BRACKETS)).lower().strip()
    simplified = _t2s.convert(text)
    if _CJK.search(simplified):
        core, region = _strip_cjk(simplified)
        if not core:  # a name that is only legal forms keeps its words
            core = _DROP.sub("", simplified)
        syllables = _syllables(core)
        pinyin = "".join(syllables)
        # surname and given name, as a romanised person's name is written (Li Na)
        alt_core = core
        for word, synonym in _CJK_SYNONYMS.items():
            alt_core = alt_core.replace(word, synonym)
        alt_pinyin = _pinyin(alt_core) if alt_core != core else ""
        split = 2 if core[:2] in _COMPOUND_SURNAMES else 1
        words: tuple[str, ...] = (
            ("".join(syllables[:split]), "".join(syllables[split:])) if len(core) <= 4 else ()
        )
        cjk = True
    else:
        core, region = _strip_latin(simplified)
        pinyin = core.replace(" ", "")
        words = tuple(core.split()) if core.count(" ") in (1, 2) else ()
        alt_pinyin = ""
        cjk = False
    return Folded(
        text=" ".join((name or "").split()),
        core=core,
        pinyin=pinyin,
        region=region,
        traditional=simplified != text,
        cjk=cjk,
        words=words,
        alt_pinyin=alt_pinyin,
    )


def _as_folded(name: str | Folded) -> Folded:
    return name if isinstance(name, Folded) else fold(name)


def compare(query: str | Folded, candidate: str | Folded) -> Match:
    """Score how likely two names name the same party (0–100) and how."""
    a, b = _as_folded(query), _as_folded(candidate)
    if a.empty or b.empty:
        return Match(0, "normalized")
    if a.text == b.text:
        return Match(100, "exact")
    best = Match(0, "normalized")
    if a.cjk and b.cjk:
        if a.core == b.core:
            simplified_only = a.traditional or b.traditional
            best = Match(97, "traditional") if simplified_only else Match(98, "normalized")
        elif min(len(a.core), len(b.core)) >= 2:
            ratio = fuzz.ratio(a.core, b.core)
            # A distinguishing word added to a short name (中国建设 → 中国建设银行)
            # is a different company; only edits within the name stay close.
            path = "traditional" if a.traditional or b.traditional else "normalized"
            best = Match(int(round(ratio * 0.98)), path)
    elif not a.cjk and not b.cjk:
        if a.core == b.core:
            best = Match(98, "normalized")
        else:
            ratio = max(fuzz.token_sort_ratio(a.core, b.core), fuzz.ratio(a.pinyin, b.pinyin))
            best = Match(int(round(ratio * 0.98)), "normalized")
    if len(a.pinyin) >= 4 and len(b.pinyin) >= 4 and best.score < 92:
        sound = fuzz.ratio(a.pinyin, b.pinyin)
        if a.cjk != b.cjk:
            cjk, latin = (a, b) if a.cjk else (b, a)
            if cjk.alt_pinyin:
                sound = max(sound, fuzz.ratio(cjk.alt_pinyin, latin.pinyin))
        if not (a.cjk and b.cjk):
            # Spacing and word order of a romanisation vary: Zhang San, San Zhang.
            sound = max(sound, fuzz.token_sort_ratio(_spaced(a), _spaced(b)))
        pinyin_score = int(round(sound * 0.92))
        if pinyin_score > best.score:
            best = Match(pinyin_score, "pinyin")
    if a.region and b.region and _region_key(a) != _region_key(b) and best.score >= 90:
        # Same name, different places: possibly a re-registration, never certain.
        best = Match(min(best.score - 8, 90), best.path)
    return best


def _spaced(f: Folded) -> str:
    """A romanisation's words; a Chinese name as surname and given name (Huang Xiaoming)."""
    if not f.cjk:
        return f.core
    return " ".join(f.words) if f.words else f.pinyin


def _region_key(f: Folded) -> str:
    """The region spelt in pinyin, so 深圳 and Shenzhen count as one place."""
    return _pinyin(f.region) if f.cjk else f.region


def _keys(f: Folded) -> set[str]:
    keys: set[str] = set()
    if f.cjk:
        core = f.core
        keys.update("c" + core[i : i + 2] for i in range(max(len(core) - 1, 1)))
    for sound in filter(None, (f.pinyin, f.alt_pinyin)):
        keys.update("p" + sound[i : i + 3] for i in range(max(len(sound) - 2, 1)))
    keys.update("w" + word for word in f.words if word)
    return keys


class NameIndex:
    """Candidate generation over many watch-list names, then scoring of the few found.

    ``add(ref, name, aliases)`` takes an entry's reference (its row id) and names; a
    search returns the best hit per reference at or above a floor score.
    """

    def __init__(self) -> None:
        self._postings: dict[str, array[int]] = {}
        self._folded: list[Folded] = []
        self._names: list[str] = []
        self._refs = array("q")
        self._alias = bytearray()

    def __len__(self) -> int:
        return len(self._refs)

    def add(self, ref: int, name: str, aliases: Iterable[str] = ()) -> None:
        for position, variant in enumerate([name, *aliases]):
            folded = fold_once(variant)  # each entry's names are folded once per build
            if folded.empty:
                continue
            slot = len(self._refs)
            self._refs.append(ref)
            self._alias.append(1 if position else 0)
            self._folded.append(folded)
            self._names.append(variant)
            for key in _keys(folded):
                postings = self._postings.get(key)
                if postings is None:
                    postings = self._postings[key] = array("i")
                postings.append(slot)

    def candidates(self, folded: Folded) -> list[int]:
        """Slots sharing the most keys with ``folded`` (at most a few hundred).

        Keys are read rarest first; reading stops once a key is common or enough postings
        were read, after at least the three rarest: a name like the query shares most of
        its keys, so it shares some of the rare ones.
        """
        lists = sorted(
            (p for p in (self._postings.get(k) for k in _keys(folded)) if p is not None), key=len
        )
        counts: Counter[int] = Counter()
        read = used = 0
        for postings in lists:
            if used >= 3 and (len(postings) > _COMMON_KEY or read > _POSTINGS_BUDGET):
                break
            counts.update(postings[:_COMMON_KEY])
            read += len(postings)
            used += 1
        # A name that can score high shares a good part of the keys read; one that shares
        # a single trade word (科技) is not worth scoring.
        least = max(1, int(used * _SHARED_KEYS))
        return [slot for slot, n in counts.most_common(_CANDIDATES) if n >= least]

    def search(self, name: str | Folded, *, floor: int = 85, limit: int = 10) -> list[Hit]:
        """Entries whose name or alias scores at least ``floor`` against ``name`` (or the
        name already folded), best first, one hit per reference."""
        folded = _as_folded(name)
        if folded.empty:
            return []
        best: dict[int, Hit] = {}
        for slot in self.candidates(folded):
            match = compare(folded, self._folded[slot])
            if match.score < floor:
                continue
            path = "alias" if self._alias[slot] else match.path
            ref = self._refs[slot]
            if ref not in best or best[ref].score < match.score:
                best[ref] = Hit(ref, self._names[slot], match.score, path)
        return sorted(best.values(), key=lambda h: (-h.score, h.ref))[:limit]


def screen_name(index: NameIndex, name: str, thresholds: Thresholds) -> list[Hit]:
    """The hits of ``name`` at or above the ``possible`` threshold."""
    return index.search(name, floor=thresholds.possible)


def pairs_stats(
    pairs: Sequence[tuple[str, str, bool]], thresholds: Thresholds
) -> dict[str, float | int]:
    """Precision and recall of :func:`compare` at ``thresholds.possible`` on labelled
    ``(name, listed name, same party)`` pairs (the fixture's and the benchmark's)."""
    tp = fp = fn = 0
    for query, listed, same in pairs:
        found = compare(query, listed).score >= thresholds.possible
        tp += found and same
        fp += found and not same
        fn += same and not found
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    return {
        "pairs": len(pairs),
        "tp": tp,
        "fp": fp,
        "fn": fn,
        "precision": precision,
        "recall": recall,
    }
