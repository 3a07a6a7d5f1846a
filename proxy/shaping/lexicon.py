"""The watermark's substitution groups: interchangeable renderings of one meaning.

Each group is a set of variants a fluent writer could use in the same place
("do not" / "don't" / "don’t", "toward" / "towards", "colour" / "color"); the
watermark picks one per occurrence with a keyed hash. The conditions keep a
substitution grammatical: a word that is only interchangeable in one frame
("important" only in "is important to/that") carries that frame here.

Two rules keep the watermark verifiable (``tests/test_shaping.py`` and
``bench/fingerprint.py`` check them on real text):

* every variant of a group is recognised in the same places, so a marked text
  shows the marker exactly the slots the original had;
* no condition mentions a word that is itself a variant of some group, so
  choosing one slot's variant never changes whether a neighbouring slot exists.

Format of ``_SPEC``: ``variant/variant/... | condition; condition``; the first
variant names the group; a variant is matched token by token ("real-time" is
three tokens, "real time" three, "realtime" one). Conditions: ``initial``
(sentence start, then a comma), ``start`` / ``notstart`` (at / not at a
sentence start), ``comma`` (right after a comma), ``spaced`` (after
whitespace), ``word`` / ``num`` (a word / a number follows after a space),
``lower`` (that word is lowercase), ``plain`` (the previous word is not a name),
``prev=`` / ``prev!=`` / ``next=`` / ``next!=`` with comma-separated words or
``@SET``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from types import MappingProxyType
from typing import Final

from proxy.shaping.tokenizer import WS, tokenize


def _split(words: str) -> frozenset[str]:
    return frozenset(words.split())


# Frames named in conditions. A group's canonical name (its first variant) stands for
# any of its variants when it is the previous word, so "can't use" is seen as "cannot use".
SETS: Final[MappingProxyType[str, frozenset[str]]] = MappingProxyType(
    {
        # Words after which a verb is in its base form.
        "MODAL": _split("to can could will would shall should may might must please i we you they cannot let's not")
        | {"do not", "does not", "did not", "will not", "would not", "should not", "could not", "in order to"},
        # Forms of "be" (and contractions of it) before a predicate adjective.
        "BE": _split("is are was were be been being")
        | {"is not", "are not", "was not", "were not", "it is", "that is", "there is", "we are", "you are"}
        | {"they are", "i am"},
        # After "it's", these words read as "it has" ("it's been"): never expanded to "it is".
        "HAS": _split(
            """been got gotten had become come gone taken grown begun fallen risen given made never already just
            ever always happened changed led helped worked seemed proven proved caused brought left lost won meant
            done"""
        ),
        # After these, "started" is a participle ("has started"): "began" would be wrong.
        "PERF": _split("has have had having is are was were be been being get got gets getting")
        | _split("i've we've you've they've")
        | {"has not", "have not", "had not", "it is", "that is", "there is", "he is", "she is"},
        # Words before a number that make it a label, not a count ("version 3", "step 2").
        "NUMPREV": _split(
            """version versions step steps chapter section page pages figure fig table line lines python item
            level phase stage part option rule number no case type class http ipv windows release round episode
            season volume vol issue issues day days week year years month months hour hours minute minutes row
            rows column columns slide slides point points score scores lesson exercise question problem problems
            grade test tests note appendix unit units size sizes port ports node nodes id rank rfc pep php jdk
            ubuntu debian gen generation mark mk area zone tier tiers jan feb mar apr may jun jul aug sep sept oct
            nov dec january february march april june july august september october november december to from and
            or than between x by times of"""
        ),
        # Units and symbols after a number: a digit stays a digit there ("3 ms", "2 GB").
        "UNITS": _split(
            """ms s sec secs min mins h hr hrs kb mb gb tb kib mib gib px em rem pt cm mm m km kg g mg ml l x b k
            v p fps hz khz mhz ghz in ft lb lbs oz am pm th nd rd st d percent dpi bit bits byte bytes"""
        ),
        # "much" / "far" before these ("much easier" / "far easier").
        "COMPARATIVE": _split(
            """more less better worse fewer larger smaller faster slower easier harder simpler higher lower
            greater bigger cheaper safer clearer longer shorter stronger weaker earlier later closer broader wider
            deeper richer cleaner newer older"""
        ),
        # Previous words after which a pronoun starts a clause (it is a subject, not an object).
        "CLAUSE": _split(
            """and but or so because if when while since as although though that where whereas why how what
            whether now then yet until unless once after before think believe know say says said hope guess mean
            means ensure note assume suppose sure clear true obvious likely"""
        ),
        # Determiners: after them a word is a noun or an adjective, not a verb.
        "DET": _split("a an the this that these those its their his her our your my some any no each every of"),
    }
)


_SPEC: Final[str] = """
# Negations and contractions (the apostrophe style is part of the variant)
do not/don't/don’t
does not/doesn't/doesn’t
did not/didn't/didn’t
is not/isn't/isn’t
are not/aren't/aren’t
was not/wasn't/wasn’t
were not/weren't/weren’t
has not/hasn't/hasn’t
have not/haven't/haven’t
had not/hadn't/hadn’t
will not/won't/won’t
would not/wouldn't/wouldn’t
should not/shouldn't/shouldn’t
could not/couldn't/couldn’t
cannot/can't/can’t
it is/it's/it’s | word; subject; next!=not,@HAS
that is/that's/that’s | word; subject; next!=not,to,@HAS
there is/there's/there’s | word; subject; next!=not,@HAS
here is/here's/here’s | word; subject; next!=not,@HAS
i am/i'm/i’m | word; next!=not
you are/you're/you’re | word; next!=not
we are/we're/we’re | word; next!=not
they are/they're/they’re | word; next!=not
i will/i'll/i’ll | word; next!=not
you will/you'll/you’ll | word; next!=not
we will/we'll/we’ll | word; next!=not
they will/they'll/they’ll | word; next!=not
it will/it'll/it’ll | word; subject; next!=not
he is/he's/he’s | word; next!=not,@HAS
she is/she's/she’s | word; next!=not,@HAS

# Sentence-initial connectives (followed by a comma)
additionally/moreover/furthermore/in addition/also | initial
however/that said | initial
for example/for instance
first/firstly | initial
second/secondly | initial
third/thirdly | initial
in summary/to summarize/in short | initial
specifically/in particular | initial
in fact/indeed | word; next!=not
in other words/put differently/put another way | initial
on the other hand/in contrast | initial
notably/importantly | initial
instead/rather | initial
note/keep in mind | start; next=that
make sure/ensure | word; next!=to,of,it
makes sure/ensures | word; next!=to,of,it
made sure/ensured | word; next!=to,of,it

# Optional comma after a sentence-initial adverb ("Then, the" / "Then the")
therefore,/therefore/thus,/thus | start; word
finally,/finally/lastly,/lastly | start; word
similarly,/similarly/likewise,/likewise | start; word
consequently,/consequently/as a result,/as a result | start; word
meanwhile,/meanwhile/in the meantime,/in the meantime | start; word
ultimately,/ultimately/in the end,/in the end | start; word
currently,/currently/at present,/at present/at the moment,/at the moment | start; word
then,/then | start; word
now,/now | start; word
so,/so | start; word
here,/here | start; word
still,/still | start; word
again,/again | start; word
otherwise,/otherwise | start; word
sometimes,/sometimes | start; word
later,/later | start; word
today,/today | start; word
hence,/hence | start; word
initially,/initially | start; word
previously,/previously | start; word
recently,/recently | start; word
eventually,/eventually | start; word
historically,/historically | start; word
normally,/normally | start; word
generally,/generally | start; word
traditionally,/traditionally | start; word
nowadays,/nowadays | start; word
fortunately,/fortunately | start; word
unfortunately,/unfortunately | start; word
interestingly,/interestingly | start; word
surprisingly,/surprisingly | start; word
clearly,/clearly | start; word
obviously,/obviously | start; word
essentially,/essentially | start; word
basically,/basically | start; word
ideally,/ideally | start; word
alternatively,/alternatively | start; word
optionally,/optionally | start; word
conversely,/conversely | start; word
occasionally,/occasionally | start; word
technically,/technically | start; word
by default,/by default | start; word
in practice,/in practice | start; word
in this case,/in this case | start; word
in general,/in general | start; word
of course,/of course | start; word
at first,/at first | start; word
in theory,/in theory | start; word

# Connectives and pronouns anywhere
therefore/thus | notstart; next!=far
nevertheless/nonetheless
often/frequently | prev!=so,as
usually/typically
mainly/primarily
quickly/rapidly
approximately/roughly | num
nearly/almost | next!=never,nothing,no,none,like,as,always
perhaps/maybe
especially/particularly
completely/entirely
toward/towards
afterward/afterwards
among/amongst
while/whilst | prev!=a,the,for,little,short,long,worth,once,quite,great,good,all,that,this
although/though/even though | word; prev!=even,as
in order to/so as to | word
but/yet | comma; word; next!=also,only,rather,instead,merely,simply,not,another,again,more,still,to,then
each/every | word; prev!=they,we,you,them,us,these,those,almost,nearly,virtually,practically,not,and; next!=of,other,one,so,now,and,single,two,three,four,five,six,seven,eight,nine,few,couple,hundred,thousand,last,bit
all of the/all the | word; next!=way,same,more,better,less,worse,while,rest
all of these/all these | word
all of this/all this | word
all of those/all those | word
all of your/all your | word
all of my/all my | word
all of our/all our | word
all of their/all their | word
half of the/half the | word
kind of/sort of | word
kinds of/sorts of | word
someone/somebody
anyone/anybody
everyone/everybody
no one/nobody
need to/have to | word; prev!=@DET; next!=do
needs to/has to | word; prev!=@DET; next!=do
needed to/had to | word; prev!=@DET; next!=do
started/began | prev!=@PERF; next!=up,off,out,over

# Adjectives in frames where they are interchangeable
big/large | word; next!=deal,data,bang,brother; prev!=at
whole/entire | word; prev=the,this,that,my,your,his,her,its,our,their; next!=number,numbers,grain,grains,wheat,milk,food,foods,note,notes
main/primary | word; prev=@DET
additional/extra | word; prev=@DET
several/multiple | word; next!=of,times
difficult/hard | next=to; prev=@BE
important/crucial/essential | next=to,that; prev=@BE

# Verbs in frames where they are interchangeable
start/begin | word; prev=@MODAL; next!=up,over,off,out
starts/begins | word; prev!=@DET; next!=up,over,off,out
choose/select | prev=@MODAL; next!=to,whether,between,not
chooses/selects | prev!=@DET; next!=to,whether,between,not
show/demonstrate | word; prev=@MODAL; next!=up,off,me,you,him,her,us,them,it
shows/demonstrates | word; prev!=@DET; next!=up,off,me,you,him,her,us,them,it
allow/enable/permit | word; prev=@MODAL; next!=for
allows/enables/permits | word; prev!=@DET; next!=for
buy/purchase | word; prev=@MODAL
try/attempt | next=to; prev!=@DET
tries/attempts | next=to; prev!=@DET
tried/attempted | next=to
use/utilize/utilise | word; prev=@MODAL; next!=of,up,to,it
uses/utilizes/utilises | word; prev!=@DET; next!=of,up,to,it
using/utilizing/utilising | word; prev!=@DET; next!=up,it
provide/offer | word; prev=@MODAL; next=@DET,many,more,both,various,great,good,better,significant,multiple,several,additional,extra,useful,valuable,two,three,four,five
provides/offers | word; prev!=@DET; next=@DET,many,more,both,various,great,good,better,significant,multiple,several,additional,extra,useful,valuable,two,three,four,five
improve/enhance | word; prev=@MODAL; next!=on,upon
improves/enhances | word; prev!=@DET; next!=on,upon
improving/enhancing | word; prev!=@DET; next!=on,upon
many/numerous | word; prev!=how,so,too,as,very,great,not,in,of,and; next!=of,more,times,other,people,ways,things
a lot of/lots of | word; prev!=@DET
a bit/a little | word; next!=of
rather than/instead of | word; next=@DET
rarely/seldom
properly/correctly | prev!=@DET
particular/specific | word; prev!=in,@BE; next!=to,of
appropriate/suitable | prev!=@DET,most,more
previous/prior | word; prev=@DET; next!=to
complex/complicated | prev=@BE,quite,fairly,pretty,relatively,remarkably,surprisingly,really,so,too,very,more,less,overly; next!=enough,as,to,for,numbers,number
perform/carry out | word; prev=@MODAL; next=@DET
performs/carries out | word; prev!=@DET; next=@DET
performed/carried out | word; prev!=@DET; next=@DET
performing/carrying out | word; prev!=@DET; next=@DET
occur/happen | prev=@MODAL; next!=to
occurs/happens | prev!=@DET; next!=to
occurred/happened | prev!=@DET; next!=to
seem to/appear to | word
seems to/appears to | word
seemed to/appeared to | word
result in/lead to | word; prev=@MODAL
results in/leads to | word; prev!=@DET
resulted in/led to | word; prev!=@DET
within/inside | word; next=@DET; prev!=from
barely/hardly | word; next!=any,ever,anyone,anything
much/far | word; next=@COMPARATIVE; prev!=so,too,as,how,very,not,by
right after/just after/immediately after | word
right before/just before/immediately before | word
simple/straightforward | prev=@BE,quite,fairly,pretty,relatively,remarkably,surprisingly,really,so,too; next!=enough,as,to,for
imagine/picture | word; start; next!=that,if,how,what,why,it,you,being,having
# Technical prose: the verbs of API documentation, with an object after them.
call/invoke | word; prev=@MODAL; next=@DET
calls/invokes | word; prev!=@DET; next=@DET
calling/invoking | word; prev!=@DET; next=@DET
modify/change | word; prev=@MODAL; next=@DET
modifies/changes | word; prev!=@DET; next=@DET
modifying/changing | word; prev!=@DET; next=@DET
remove/delete | word; prev=@MODAL; next=@DET
removes/deletes | word; prev!=@DET; next=@DET
removing/deleting | word; prev!=@DET; next=@DET
retrieve/fetch | word; prev=@MODAL; next=@DET
retrieves/fetches | word; prev!=@DET; next=@DET
retrieving/fetching | word; prev!=@DET; next=@DET
contains/includes | word; prev!=@DET; next=@DET
check/verify | word; prev=@MODAL; next=that,whether,if
checks/verifies | word; prev!=@DET; next=that,whether,if
based on/based upon | word
depends on/depends upon | word
depend on/depend upon | word
depending on/depending upon | word
dependent on/dependent upon | word
relies on/relies upon | word
rely on/rely upon | word
regardless of/irrespective of | word
compared to/compared with | word
given/specified | word; lower; prev=the
backward/backwards
amid/amidst

# Small counts: digits or words ("3 files" / "three files")
two/2 | notstart; spaced; plain; word; lower; prev!=@NUMPREV,the,a,an; next!=@UNITS,of,or,and,to,more,times,point
three/3 | notstart; spaced; plain; word; lower; prev!=@NUMPREV,the,a,an; next!=@UNITS,of,or,and,to,more,times,point
four/4 | notstart; spaced; plain; word; lower; prev!=@NUMPREV,the,a,an; next!=@UNITS,of,or,and,to,more,times,point
five/5 | notstart; spaced; plain; word; lower; prev!=@NUMPREV,the,a,an; next!=@UNITS,of,or,and,to,more,times,point
six/6 | notstart; spaced; plain; word; lower; prev!=@NUMPREV,the,a,an; next!=@UNITS,of,or,and,to,more,times,point
seven/7 | notstart; spaced; plain; word; lower; prev!=@NUMPREV,the,a,an; next!=@UNITS,of,or,and,to,more,times,point
eight/8 | notstart; spaced; plain; word; lower; prev!=@NUMPREV,the,a,an; next!=@UNITS,of,or,and,to,more,times,point
nine/9 | notstart; spaced; plain; word; lower; prev!=@NUMPREV,the,a,an; next!=@UNITS,of,or,and,to,more,times,point

# Open, hyphenated and closed compounds
real-time/real time
long-term/long term
short-term/short term
high-level/high level
low-level/low level
open-source/open source
well-known/well known
up-to-date/up to date
step-by-step/step by step
command-line/command line
third-party/third party
read-only/read only
case-sensitive/case sensitive
case-insensitive/case insensitive
full-text/full text
cross-platform/cross platform
non-zero/nonzero
non-empty/nonempty
non-blocking/nonblocking
multi-threaded/multithreaded
multi-line/multiline
file system/filesystem
file systems/filesystems
data set/dataset
data sets/datasets
time stamp/timestamp
time stamps/timestamps
user name/username
user names/usernames
back end/back-end/backend
front end/front-end/frontend
plug-in/plugin
plug-ins/plugins
trade-off/tradeoff
trade-offs/tradeoffs
sub-directory/subdirectory
sub-directories/subdirectories
sub-command/subcommand
sub-commands/subcommands
pre-processing/preprocessing
pre-installed/preinstalled
pre-built/prebuilt
pre-existing/preexisting
re-use/reuse
co-operate/cooperate
code base/codebase
check box/checkbox
drop-down/dropdown
pop-up/popup
e-mail/email
e-mails/emails
life cycle/lifecycle
left-hand/left hand
right-hand/right hand
top-level/top level
floating-point/floating point
human-readable/human readable
thread-safe/thread safe
well-defined/well defined
user-defined/user defined
hard-coded/hardcoded
stand-alone/standalone
non-negative/nonnegative
non-standard/nonstandard
non-existent/nonexistent
non-interactive/noninteractive
non-trivial/nontrivial
multi-byte/multibyte
multi-user/multiuser
white space/whitespace
lowercase/lower-case/lower case
uppercase/upper-case/upper case
bytecode/byte code
website/web site
websites/web sites
web page/webpage
web pages/webpages
wild card/wildcard
wild cards/wildcards
end user/end-user
end users/end-users
start-up/startup
pre-defined/predefined
per cent/percent

# Spelling variants (American / British, and pairs valid in both)
judgment/judgement
judgments/judgements
acknowledgment/acknowledgement
acknowledgments/acknowledgements
gray/grey
grayscale/greyscale
defense/defence
offense/offence
analog/analogue
catalog/catalogue
catalogs/catalogues
aluminum/aluminium
aging/ageing
cozy/cosy
spelled/spelt
dreamed/dreamt
burned/burnt
leaped/leapt
fulfill/fulfil
fulfills/fulfils
enroll/enrol
enrolls/enrols
skillful/skilful
willful/wilful
installment/instalment
installments/instalments
jewelry/jewellery
artifact/artefact
artifacts/artefacts
skeptical/sceptical
learned/learnt
"""

# -ize / -ise: every form of these stems.
_IZE_STEMS: Final[tuple[str, ...]] = tuple(
    _split("""organ real recogn optim summar util priorit minim maxim custom visual emphas special categor character
    stabil standard final author apolog critic memor synchron modern neutral general central personal capital
    familiar symbol mobil legal formal local global random sanit harmon sympath jeopard hypothes theor fertil
    immun revolution industrial commercial normal vapor""")
)
_IZE_FORMS: Final[tuple[tuple[str, str], ...]] = (
    ("ize", "ise"), ("izes", "ises"), ("ized", "ised"), ("izing", "ising"), ("ization", "isation"),
    ("izations", "isations"), ("izer", "iser"), ("izers", "isers"),
)  # fmt: skip
# "analyses" is also the plural of "analysis": only the unambiguous forms.
_YZE: Final[tuple[tuple[str, str], ...]] = (
    ("analyze", "analyse"), ("analyzed", "analysed"), ("analyzing", "analysing"), ("analyzer", "analyser"),
    ("analyzers", "analysers"), ("paralyze", "paralyse"), ("paralyzed", "paralysed"), ("paralyzing", "paralysing"),
    ("catalyze", "catalyse"), ("catalyzed", "catalysed"),
)  # fmt: skip
# -or / -our: only the forms whose British spelling keeps the u ("humorous", "vigorous" do not).
_OUR_STEMS: Final[tuple[str, ...]] = tuple(
    _split("color behavior favor honor labor neighbor flavor humor rumor harbor endeavor armor parlor valor clamor")
)
_OUR_FORMS: Final[tuple[str, ...]] = ("", "s", "ed", "ing")
_OUR_EXTRA: Final[tuple[str, ...]] = tuple(
    _split("""colorful colorless favorite favorites favorable favorably unfavorable behavioral honorable neighborhood
    neighborhoods flavorful discolored""")
)
# -er / -re, -l / -ll.
_PAIRS: Final[tuple[tuple[str, str], ...]] = (
    ("center", "centre"), ("centers", "centres"), ("centered", "centred"), ("fiber", "fibre"), ("fibers", "fibres"),
    ("theater", "theatre"), ("theaters", "theatres"), ("liter", "litre"), ("liters", "litres"),
    ("caliber", "calibre"), ("somber", "sombre"), ("luster", "lustre"),
    ("labeled", "labelled"), ("labeling", "labelling"), ("modeled", "modelled"), ("modeling", "modelling"),
    ("traveled", "travelled"), ("traveling", "travelling"), ("traveler", "traveller"), ("travelers", "travellers"),
    ("canceled", "cancelled"), ("canceling", "cancelling"), ("signaled", "signalled"), ("signaling", "signalling"),
    ("fueled", "fuelled"), ("fueling", "fuelling"), ("totaled", "totalled"), ("leveled", "levelled"),
    ("marveled", "marvelled"), ("counselor", "counsellor"), ("counselors", "counsellors"),
    ("marshaled", "marshalled"), ("marshaling", "marshalling"), ("tunneled", "tunnelled"),
    ("tunneling", "tunnelling"), ("channeled", "channelled"), ("leveling", "levelling"), ("totaling", "totalling"),
    ("counseling", "counselling"), ("modeler", "modeller"), ("enrollment", "enrolment"),
    ("fulfillment", "fulfilment"),
    # -ize verbs of technical prose, without the -izer nouns (often parameter names: "initializer").
    ("initialize", "initialise"), ("initializes", "initialises"), ("initialized", "initialised"),
    ("initializing", "initialising"), ("initialization", "initialisation"), ("serialize", "serialise"),
    ("serializes", "serialises"), ("serialized", "serialised"), ("serializing", "serialising"),
    ("serialization", "serialisation"), ("deserialize", "deserialise"), ("deserialized", "deserialised"),
    ("deserializing", "deserialising"), ("deserialization", "deserialisation"), ("parallelize", "parallelise"),
    ("parallelized", "parallelised"), ("vectorized", "vectorised"), ("canonicalize", "canonicalise"),
    ("memoize", "memoise"), ("memoized", "memoised"), ("memoization", "memoisation"),
)  # fmt: skip


Shape = tuple[tuple[int, str], ...]  # a variant as (token kind, lowercase text) pairs


@dataclass(frozen=True, slots=True)
class Group:
    """One kind of slot: its variants and where it applies."""

    gid: str
    forms: tuple[str, ...]  # the variants as written
    shapes: tuple[Shape, ...]  # the variants as tokens, for matching
    initial: bool = False  # sentence start, followed by a comma
    start: bool = False  # at a sentence start
    notstart: bool = False  # not at a sentence start
    comma: bool = False  # right after a comma
    spaced: bool = False  # right after whitespace
    word: bool = False  # a word must follow (after a space, same line)
    num: bool = False  # a number must follow
    lower: bool = False  # the following word is lowercase
    plain: bool = False  # the previous word is not a name (capitalized mid-sentence)
    # The first word is a subject: at a clause start (sentence start, after , ; : — or after a
    # conjunction or a verb of saying), not an object ("think about it is ..." is not "it's").
    subject: bool = False
    prev_in: frozenset[str] | None = None
    prev_not: frozenset[str] = frozenset()
    next_in: frozenset[str] | None = None
    next_not: frozenset[str] = frozenset()
    # After "a"/"an" a variant starting with the other kind of sound would break the article.
    article_sensitive: bool = False


def _words(spec: str) -> frozenset[str]:
    out: set[str] = set()
    for item in spec.split(","):
        item = item.strip()
        if item.startswith("@"):
            out |= SETS[item[1:]]
        elif item:
            out.add(item)
    return frozenset(out)


def _vowel(form: str) -> bool:
    return form[:1].lower() in "aeiou"


_FLAGS: Final = frozenset(
    {"initial", "start", "notstart", "comma", "spaced", "word", "num", "lower", "plain", "subject"}
)


def _group(forms: list[str], conditions: str = "") -> Group:
    shapes = tuple(tuple((t.kind, t.text.lower()) for t in tokenize(f)) for f in forms)
    fields: dict[str, object] = {}
    for cond in (c.strip() for c in conditions.split(";")):
        if not cond:
            continue
        if cond in _FLAGS:
            fields[cond] = True
        elif cond.startswith("prev!="):
            fields["prev_not"] = _words(cond[6:])
        elif cond.startswith("prev="):
            fields["prev_in"] = _words(cond[5:])
        elif cond.startswith("next!="):
            fields["next_not"] = _words(cond[6:])
        elif cond.startswith("next="):
            fields["next_in"] = _words(cond[5:])
            fields["word"] = True
        else:
            raise ValueError(f"unknown lexicon condition {cond!r}")
    if any(shape[-1][0] == WS or shape[0][0] == WS for shape in shapes):
        raise ValueError(f"lexicon variant with outer whitespace in {forms}")
    sounds = {_vowel(f) for f in forms}
    gid = forms[0].lower()
    return Group(gid=gid, forms=tuple(forms), shapes=shapes, article_sensitive=len(sounds) > 1, **fields)  # type: ignore[arg-type]


def _build() -> tuple[Group, ...]:
    groups: list[Group] = []
    for line in _SPEC.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        variants, _, conditions = line.partition("|")
        groups.append(_group([v.strip() for v in variants.split("/")], conditions))
    written = {f for g in groups for f in g.forms}
    for stem in _IZE_STEMS:
        for us, uk in _IZE_FORMS:
            if stem + us not in written:  # a form the spec already places in a frame
                groups.append(_group([stem + us, stem + uk]))
    for us, uk in _YZE:
        groups.append(_group([us, uk]))
    for stem in _OUR_STEMS:
        for suffix in _OUR_FORMS:
            groups.append(_group([stem + suffix, stem[:-2] + "our" + suffix]))
    for word in _OUR_EXTRA:
        at = word.index("or")
        groups.append(_group([word, word[:at] + "our" + word[at + 2 :]]))
    for us, uk in _PAIRS:
        groups.append(_group([us, uk]))
    return tuple(groups)


def _canonical_next(groups: tuple[Group, ...]) -> tuple[Group, ...]:
    """Rewrite next-word conditions to canonical first words ("every" -> "each"), as they are
    compared (see ``_check``), so a set can be written with plain English words."""
    canonical = {g.shapes[0][0][1] for g in groups}
    to_canon: dict[str, str] = {}
    for g in groups:
        if g.initial or g.start:
            continue
        for shape in g.shapes:
            first = shape[0][1]
            if first not in canonical and to_canon.setdefault(first, g.shapes[0][0][1]) != g.shapes[0][0][1]:
                raise ValueError(f"lexicon: {first!r} starts variants of two groups")

    def fix(words: frozenset[str] | None) -> frozenset[str] | None:
        return None if words is None else frozenset(to_canon.get(w, w) for w in words)

    return tuple(replace(g, next_in=fix(g.next_in), next_not=fix(g.next_not) or frozenset()) for g in groups)


GROUPS: Final[tuple[Group, ...]] = _canonical_next(_build())


def _index() -> dict[str, tuple[tuple[Group, int], ...]]:
    table: dict[str, list[tuple[Group, int]]] = {}
    for g in GROUPS:
        for i, shape in enumerate(g.shapes):
            table.setdefault(shape[0][1], []).append((g, i))
    # Longest variants first, so "in order to" wins over a shorter phrase starting with "in".
    return {first: tuple(sorted(entries, key=lambda e: -len(e[0].shapes[e[1]]))) for first, entries in table.items()}


INDEX: Final[MappingProxyType[str, tuple[tuple[Group, int], ...]]] = MappingProxyType(_index())
MAX_SHAPE: Final[int] = max(len(shape) for g in GROUPS for shape in g.shapes)


def _check() -> None:
    """The verifiability rules of the module docstring, checked once at import.

    A condition on the next word sees the canonical first word of the slot that word
    starts ("you're" is seen as "you", "dataset" as "data"), so it must name canonical
    first words, never a word that only ever appears as another variant's first word.
    """
    canonical = {g.shapes[0][0][1] for g in GROUPS}
    # Sentence-initial groups never start right after a word on the same line.
    unstable = {shape[0][1] for g in GROUPS if not (g.initial or g.start) for shape in g.shapes} - canonical
    for g in GROUPS:
        for field in (g.next_in or frozenset(), g.next_not):
            clash = field & unstable
            if clash:
                raise ValueError(f"lexicon group {g.gid!r}: next-word condition names a non-canonical variant {clash}")
    # A variant belongs to one group, except in one group for sentence starts and one for
    # elsewhere ("Thus," / "thus"): the two never apply at the same place.
    seen: dict[tuple[Shape, bool], str] = {}
    for g in GROUPS:
        places = (True,) if g.start or g.initial else (False,) if g.notstart else (True, False)
        for shape in g.shapes:
            for place in places:
                if (shape, place) in seen:
                    raise ValueError(f"variant {shape!r} in groups {seen[shape, place]!r} and {g.gid!r}")
                seen[shape, place] = g.gid


_check()
