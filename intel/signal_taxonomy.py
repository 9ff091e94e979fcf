"""The built-in taxonomy of sales trigger events: general business-news phrasing.

Patterns are in the language described in `intel.signals` (one token per
word, `a|b` alternatives, `?` optional, `~` any one optional token, `#MONEY`,
`#NUM`, `#CAP`). A rule of two or more required words weighs 0.8, one word
0.5, unless it says otherwise (`w=`): a decisive single word ("layoffs",
"IPO", "ransomware") counts more, a loose one less.

Stages say which sales stages an event helps, after the research this tool
follows: prospecting and qualifying need strategy, decision makers and
purchasing plans; pricing and negotiating need budget pressure and leverage;
delivering and servicing need what happened to the account after the sale.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Rule:
    pattern: str
    before: str | None = None  # role of the prospect named just before the words
    after: str | None = None   # ... and just after
    weight: float | None = None

    @property
    def strength(self) -> float:
        """A phrase of several words says more than one word that has other uses."""
        if self.weight is not None:
            return self.weight
        required = [w for w in self.pattern.split() if not w.endswith("?") and w != "~"]
        return 0.8 if len(required) >= 2 else 0.5


@dataclass(frozen=True)
class SignalType:
    name: str
    stages: tuple[str, ...]
    rules: tuple[Rule, ...]
    keywords: tuple[str, ...] = ()


def R(pattern: str, before: str | None = None, after: str | None = None, w: float | None = None) -> Rule:
    return Rule(pattern, before, after, w)


def forms(*verbs: str) -> str:
    """'acquire:acquires:acquired:acquiring' ... -> one alternatives token."""
    return "|".join(dict.fromkeys(f for verb in verbs for f in verb.split(":")))


ACQUIRE = forms("acquire:acquires:acquired:acquiring")
BUY = forms("buy:buys:bought:buying")
SELL = forms("sell:sells:sold:selling", "offload:offloads:offloaded", "unload:unloads:unloaded")
RAISE = forms("raise:raises:raised:raising")
GET_MONEY = forms(RAISE, "secure:secures:secured:securing", "close:closes:closed:closing",
                  "land:lands:landed:landing", "nab:nabs:nabbed", "bag:bags:bagged", "snag:snags:snagged",
                  "get:gets:got", "receive:receives:received", "attract:attracts:attracted",
                  "line:lines:lined", "arrange:arranges:arranged", "obtain:obtains:obtained")
WIN = forms("win:wins:won:winning", "secure:secures:secured", "land:lands:landed", "bag:bags:bagged",
            "nab:nabs:nabbed", "awarded", "receive:receives:received", "clinch:clinches:clinched",
            "capture:captures:captured")
AWARD = forms("award:awards:awarded:awarding", "grant:grants:granted")
APPOINT = forms("name:names:named:naming", "appoint:appoints:appointed:appointing", "tap:taps:tapped",
                "promote:promotes:promoted", "elect:elects:elected", "hire:hires:hired",
                "pick:picks:picked", "choose:chooses:chose:chosen")
HIRE = forms("hire:hires:hired:hiring", "recruit:recruits:recruited:recruiting")
ADD = forms("add:adds:added:adding", "create:creates:created:creating")
CUT = forms("cut:cuts:cutting", "slash:slashes:slashed:slashing", "eliminate:eliminates:eliminated:eliminating",
            "shed:sheds:shedding", "axe:axes:axed:axing", "reduce:reduces:reduced:reducing",
            "trim:trims:trimmed:trimming")
OPEN = forms("open:opens:opened:opening", "build:builds:built:building")
EXPAND = forms("expand:expands:expanded:expanding", "grow:grows:grew:growing",
               "double:doubles:doubled", "boost:boosts:boosted")
LAUNCH = forms("launch:launches:launched:launching", "unveil:unveils:unveiled:unveiling",
               "introduce:introduces:introduced:introducing", "debut:debuts:debuted:debuting",
               "release:releases:released:releasing", "announce:announces:announced",
               "bring:brings:brought:bringing", "add:adds:added:adding", "ship:ships:shipped:shipping")
PARTNER = forms("partner:partners:partnered:partnering", "team:teams:teamed:teaming",
                "collaborate:collaborates:collaborated:collaborating", "ally:allies:allied",
                "join:joins:joined:joining")
SIGN = forms("sign:signs:signed:signing", "ink:inks:inked:inking", "strike:strikes:struck:striking",
             "form:forms:formed:forming", "expand:expands:expanded:expanding", "extend:extends:extended",
             "deepen:deepens:deepened", "announce:announces:announced", "enter:enters:entered",
             "renew:renews:renewed", "forge:forges:forged", "seal:seals:sealed")
REPORT = forms("report:reports:reported:reporting", "post:posts:posted:posting")
GUIDE = forms("raise:raises:raised", "cut:cuts", "lower:lowers:lowered", "reaffirm:reaffirms:reaffirmed",
              "maintain:maintains:maintained", "lift:lifts:lifted", "trim:trims:trimmed",
              "withdraw:withdraws:withdrew", "boost:boosts:boosted", "hike:hikes:hiked",
              "slash:slashes:slashed", "narrow:narrows:narrowed", "raising", "lifting", "cutting")
MOVED = forms("rise:rises:rose:rising:risen", "fall:falls:fell:falling:fallen", "grow:grows:grew:growing",
              "jump:jumps:jumped", "climb:climbs:climbed", "decline:declines:declined", "drop:drops:dropped",
              "slow:slows:slowed", "increase:increases:increased", "decrease:decreases:decreased",
              "surge:surges:surged", "slump:slumps:slumped", "beat:beats", "miss:misses:missed",
              "top:tops:topped", "exceed:exceeds:exceeded")
SELECT = forms("select:selects:selected:selecting", "choose:chooses:chose:choosing:chosen",
               "pick:picks:picked:picking", "tap:taps:tapped:tapping", "standardize:standardizes:standardized",
               "standardise:standardises:standardised", "adopt:adopts:adopted:adopting",
               "deploy:deploys:deployed:deploying", "implement:implements:implemented:implementing",
               "license:licenses:licensed")
MIGRATE = forms("migrate:migrates:migrated:migrating", "move:moves:moved:moving", "shift:shifts:shifted",
                "transition:transitions:transitioned", "consolidate:consolidates:consolidated:consolidating",
                "port:ports:ported")
SUE = forms("sue:sues:sued:suing")
EXEC = ("ceo|cfo|cto|coo|cio|ciso|cmo|cro|cpo|president|chairman|chairwoman|chair|chief|head|heads|"
        "co-head|co-heads|co-ceo|co-ceos|co-chief|co-chiefs|executive|executives|director|directors|vp|svp|evp|"
        "chairperson|leader|boss|finance|officer|treasurer|general")
FACILITY = ("office|offices|headquarters|hq|plant|plants|factory|factories|facility|facilities|store|stores|"
            "hub|hubs|campus|center|centre|centers|centres|warehouse|warehouses|showroom|showrooms|cafés|cafes|"
            "restaurants|branch|branches|location|locations|site|sites|region|regions|gigafactory|fab|fabs|"
            "mill|terminal|depot|lab|laboratory|clinic|hospital|outlets|dealership|line|lines|routes|route")
BUSINESS_PART = ("unit|units|division|divisions|business|businesses|stake|stakes|arm|subsidiary|subsidiaries|"
                 "brand|brands|operations|assets|portfolio|segment|refinery|plant|plants|shares|holding|"
                 "interest|operation|activities|franchise|program|programme")
STAFF = ("jobs|roles|positions|staff|employees|workers|workforce|headcount|people|engineers|managers|"
         "bankers|salespeople|hires|apprentices|graduates|researchers|nurses|drivers|technicians|posts")
PRODUCT = ("product|products|platform|service|services|model|models|feature|features|chip|chips|gpu|gpus|"
           "processor|device|devices|app|apps|tool|tools|agent|agents|assistant|phone|smartphone|version|"
           "edition|package|plan|tier|subscription|vehicle|car|suv|truck|drug|therapy|vaccine|accounts|account|"
           "builder|card|line|range|lineup|collection|console|laptop|headset|software|suite|api|engine|"
           "copilot|chatbot|offering|solution|generation|store")
SYSTEM = ("platform|system|systems|software|erp|crm|cloud|solution|solutions|vendor|provider|wms|tms|mes|"
          "suite|stack|infrastructure|database|tools|tool|applications|apps|workloads|technology|data")

DEFAULT_TAXONOMY: tuple[SignalType, ...] = (
    SignalType("funding", ("prospecting", "qualifying", "pricing"), (
        R(f"{GET_MONEY} ~? ~? ~? #MONEY", before="recipient"),
        R("series a|b|c|d|e|f|g|h", before="recipient"),
        R("seed|pre-seed|growth|venture|equity|funding|financing|investment|fundraising round|rounds",
          before="recipient"),
        R(f"{GET_MONEY} ~? ~? ~? ~? funding|financing|investment|capital|backing", before="recipient"),
        R("round|investment|funding|financing|raise was? led|co-led by", after="investor"),
        R("led|co-led|leads|co-leads|joined|joins ~? ~? ~? round|raise|financing", before="investor"),
        R("debt|bond|bonds|credit|convertible|equity|share|loan|notes financing|offering|facility|sale|line|"
          "issue|issuance|deal", before="recipient", w=0.7),
        R("venture|vc|private-equity|pe-backed|vc-backed", w=0.4),
        R("#MONEY valuation", w=0.6),
        R("valued|valuing ~? ~? at #MONEY", w=0.45),
        R("fundraise|fundraising|funding|financing", w=0.45),
    ), ("investors", "venture capital", "backers", "led the round", "post-money", "pre-money")),
    SignalType("acquisition", ("prospecting", "qualifying", "negotiating", "delivering", "servicing"), (
        R(ACQUIRE, before="acquirer", after="target", w=0.75),
        R(f"to|will|agrees|agreed|deal|plans|offer|offers|bid|move|moves|set|talks ~? ~? {ACQUIRE}|{BUY}",
          before="acquirer", after="target"),
        R(f"{BUY}", before="acquirer", after="target", w=0.4),
        R("snaps|snapped|scoops|scooped|snapping up", before="acquirer", after="target"),
        R(f"{ACQUIRE}|bought|purchased|snapped by", before="target", after="acquirer"),
        R("taken over by", before="target", after="acquirer"),
        R("acquisition|purchase|takeover|buyout of", before="acquirer", after="target"),
        R("acquisition|takeover|buyout|buy-out|merger|mergers|m&a", w=0.6),
        R("merge|merges|merged|merging|combine|combines with", before="acquirer", after="target"),
        R("take|takes|taking|took ~ ~? ~? ~? ~? private", before="acquirer", after="target"),
        R("all-cash|all-stock|cash-and-stock|cash deal|offer|transaction|purchase|takeover"),
        R("tender|takeover|bid|hostile offer|bid|approach"),
    ), ("acquirer", "shareholders will receive", "premium to", "antitrust approval", "regulatory approval")),
    SignalType("divestiture", ("qualifying", "negotiating", "servicing"), (
        R("divest|divests|divested|divesting|divestiture|divestment|divestitures|disposal|disposals",
          before="seller", w=0.75),
        R("spin|spins|spun|spinning off|out", before="seller"),
        R("spinoff|spin-off|spin-offs|spinoffs|carve-out|carveout|demerger|demerge|split-off", before="seller",
          w=0.75),
        R(f"{SELL} ~? ~? ~? ~? ~? {BUSINESS_PART}", before="seller"),
        R(f"sale|sales of ~? ~? ~? ~? ~? {BUSINESS_PART}", before="seller"),
        R(f"{SELL} ~? ~? ~? ~? ~? to", before="seller", after="buyer", w=0.45),
        R("explores|exploring|explore|weighs|weighing|considers|considering|mulls|mulling|launches sale|"
          "sales|options", before="seller"),
        R("exit|exits|exiting|exited|quit|quits ~? ~? ~? ~? business|market|banking|operations|segment|"
          "unit|country", before="seller", w=0.7),
        R(f"transfer|transfers|transferring|hand|hands ~? ~? ~? ~? {BUSINESS_PART} to", before="seller",
          after="buyer", w=0.7),
        R("retreat|retreats|retreating|withdraws|withdrawal from", before="seller", w=0.45),
        R("non-core|noncore assets|businesses|operations"),
    ), ("divest", "carve-out", "non-core", "disposals", "demerger")),
    SignalType("leadership_change", ("prospecting", "qualifying", "proposing", "negotiating", "servicing"), (
        R(f"{APPOINT} ~? ~? ~? ~? ~? as|new|its|to|the? {EXEC}"),
        R(f"{APPOINT} ~? ~? {EXEC}"),
        R(f"become|becomes|becoming|named|appointed|elected|promoted ~? ~? ~? {EXEC}"),
        R(f"new|interim|incoming|outgoing {EXEC}", w=0.45),
        R(f"{EXEC} to? step|steps|stepping|stepped|resigns|resign|resigned|retire|retires|retiring|departs|"
          f"depart|departing|leaves|leaving|quits|exits|ousted|fired"),
        R("step|steps|stepping|stepped down|aside"),
        R("resigns|resigned|resignation|ousted|ousts|succeeds|successor|succession|reshuffle|shake-up|"
          "shakeup", w=0.55),
        R(f"joins|joined|join ~? ~? as {EXEC}"),
    ), ("chief executive", "appointment", "successor", "management change")),
    SignalType("hiring", ("prospecting", "qualifying"), (
        R(f"{HIRE} ~? ~? #NUM|hundreds|thousands|more|up"),
        R("is|are|was|were|be|starts|start|begins|keeps|still hiring|recruiting", w=0.7),
        R("hiring|recruiting|recruitment spree|drive|push|plans|plan|freeze|blitz|campaign|goal|target"),
        R(f"{ADD}|hire|hires|hiring ~? ~? #NUM ~? ~? ~? {STAFF}"),
        R(f"{HIRE}", w=0.45),
        R("job|jobs openings|postings|vacancies|listings|fair"),
        R(f"fill|filling ~? ~? ~? ~? ~? {STAFF}|vacancies|openings"),
        R("openings|vacancies", w=0.45),
        R("double|doubles|doubling|triple|triples|grow|grows|growing|expand|expands|expanding|boost headcount|"
          "workforce|team|teams|staff"),
        R("headcount|talent|workforce growth|expansion|push|hunt"),
    ), ("recruiters", "signing bonuses", "job openings", "talent shortage")),
    SignalType("layoffs", ("qualifying", "pricing", "negotiating", "servicing"), (
        R("layoff|layoffs|lay-offs|lay-off|redundancies|furlough|furloughs|furloughed|job-cutting", w=0.8),
        R("lay|lays|laying|laid off"),
        R(f"{CUT} ~? ~? ~? #NUM|hundreds|thousands|some|more ~? ~? ~? {STAFF}"),
        R(f"{CUT} ~? ~? {STAFF}"),
        R("job|jobs|workforce|headcount|staff cuts|losses|reductions|reduction|cut|eliminations"),
        R("restructuring|downsizing|downsize|downsizes|rightsizing", w=0.45),
        R("#NUM|% of ~? its|the? workforce|staff|employees"),
        R(f"{STAFF} affected|eliminated|cut|redundant"),
        R("plant|factory|store|office|studio|site closures|closure", w=0.6),
        R("shut|shuts|shutting down|close|closes", w=0.4),
        R("reductions|cuts", w=0.4),
    ), ("severance", "cost-cutting", "cost cuts", "workforce reduction")),
    SignalType("expansion", ("prospecting", "qualifying", "proposing", "delivering"), (
        R(f"{OPEN} ~? ~? ~? ~? ~? {FACILITY}"),
        R(f"{EXPAND} into|to|in|across|its|production|capacity|footprint|presence|operations|network|"
          f"manufacturing|plant|facility|factory|fleet", w=0.6),
        R("expansion|expansions", w=0.5),
        R(f"new|second|third|fourth|first|largest|biggest|additional ~? ~? ~? {FACILITY}", w=0.65),
        R("enter|enters|entering|entered|to enter #CAP|market|markets|new"),
        R(f"invest|invests|investing|investment|commit|commits|spend|spends #MONEY ~? ~? ~? ~? ~? ~? {FACILITY}|"
          "data|capacity|production|expansion|operations"),
        R("break|breaks|broke|breaking ground"),
        R(f"add|adds|adding|launch|launches ~? ~? new|nonstop|more ~? {FACILITY}|flights|capacity"),
        R("assembly|production|manufacturing line|lines|capacity", w=0.6),
    ), ("footprint", "new market", "international expansion", "groundbreaking")),
    SignalType("product_launch", ("prospecting", "qualifying", "proposing"), (
        R(f"{LAUNCH} ~? ~? ~? ~? ~? {PRODUCT}"),
        R("unveils|unveiled|unveiling|unveil|debuts|introduces|introduced|launches|launched|launch", w=0.5),
        R("rolls|rolled|rolling|roll out", w=0.5),
        R("now|generally|widely|globally available"),
        R("general availability|early access|public beta|private preview|public preview"),
        R(f"new|next-generation|refreshed|redesigned|updated|latest ~? ~? {PRODUCT}", w=0.45),
        R("begins|began|starts|started|start deliveries|shipments|shipping|sales"),
        R("available to|for|in", w=0.4),
    ), ("launch event", "availability", "pricing starts", "preorders", "pre-orders")),
    SignalType("partnership", ("prospecting", "qualifying", "proposing"), (
        R(f"{PARTNER} with|on|to|up|forces", before="partner", after="partner"),
        R("partnership|partnerships|alliance|alliances|collaboration|tie-up|pact|co-operation|cooperation",
          before="partner", after="partner", w=0.65),
        R("joint venture|development|research"),
        R(f"{SIGN} ~? ~? ~? ~? deal|partnership|alliance|pact|agreement|collaboration|mou|memorandum",
          before="partner", after="partner", w=0.6),
        R("jointly|co-develop|co-develops|co-developing|co-design|co-designed|co-marketing", w=0.6),
        R("official|exclusive|strategic|preferred|technology|launch partner|sponsor|supplier|provider", w=0.65),
        R("franchise|reseller|distribution|licensing|integration|co-marketing|marketing agreement|partner|deal|"
          "pact", w=0.7),
        R("together|jointly with", w=0.4),
    ), ("partners", "collaborate", "ecosystem")),
    SignalType("contract_win", ("prospecting", "qualifying", "delivering"), (
        R(f"{WIN} ~? ~? ~? ~? ~? ~? contract|contracts|order|orders|tender|award|deal|deals", before="winner",
          after="customer"),
        R(f"{AWARD} ~? ~? ~? ~? ~? ~? contract|deal|order|task|tender|award", before="customer",
          after="winner"),
        R("#MONEY ~? ~? ~? ~? contract|order|award|tender"),
        R("contract|order|orders|award worth|valued"),
        R("selected|chosen|picked|tapped by", before="winner", after="customer", w=0.7),
        R("picked|selected|chose|chosen|tapped|hired ~ ~? ~? ~? to build|supply|provide|rebuild|deliver|"
          "develop|manufacture|operate|run|design", before="customer", after="winner", w=0.7),
        R("task|purchase order|orders", w=0.7),
        R("supply|framework|enterprise|services|outsourcing deal|agreement|contract", w=0.7),
        R("multi-year|multiyear|multibillion-dollar|billion-dollar|million-dollar|multimillion-dollar ~? ~? "
          "contract|deal|agreement|order", w=0.6),
        R("under the award|contract", w=0.6),
    ), ("procurement", "task order", "awarded")),
    SignalType("earnings", ("qualifying", "pricing", "negotiating", "closing"), (
        R(f"{REPORT} ~? ~? ~? ~? quarterly|annual|results|earnings|revenue|profit|loss|sales|growth|"
          "first-half|second-half|half-year"),
        R("quarterly|annual|first-quarter|second-quarter|third-quarter|fourth-quarter|full-year|q1|q2|q3|q4|"
          "first-half|half-year|interim|fiscal|yearly results|earnings|revenue|profit|profits|sales|loss|"
          "losses|income|guidance|outlook"),
        R("beats|beat|misses|missed|tops|topped|exceeds|exceeded|trails|lags ~? ~? estimates|expectations|"
          "forecasts|forecast|consensus|views"),
        R(f"{GUIDE} ~? ~? ~? guidance|outlook|forecast|forecasts|targets"),
        R(f"earnings|eps|ebitda|revenue|revenues|profit|profits|sales|margin|margins|bookings|backlog ~? {MOVED}",
          w=0.6),
        R("comparable|same-store|like-for-like|organic sales|growth|revenue", w=0.6),
        R("net|operating|pre-tax|pretax income|profit|loss|margin", w=0.6),
        R("first|second|third|fourth quarter results|earnings|revenue|profit|sales", w=0.8),
        R("earnings|guidance", w=0.45),
    ), ("analysts expected", "per share", "year-over-year", "year on year")),
    SignalType("ipo", ("prospecting", "qualifying", "pricing"), (
        R("ipo|ipos|i.p.o.", w=0.8),
        R("initial public offering|offerings", w=0.9),
        R("go|goes|going|went|gone|to public"),
        R("public|direct|stock-market listing"),
        R("market|trading|listing|stock-market debut"),
        R("stock market debut"),
        R("debuts|debuted|debut|lists|listed|listing on", w=0.6),
        R("begins|began|starts|started|start|begin trading"),
        R("offer price|price range", w=0.6),
        R("spac|de-spac", w=0.6),
        R("files|filed|filing confidentially|for|to ~? listing|flotation|ipo"),
        R("flotation|float", w=0.45),
    ), ("prospectus", "underwriters", "bookrunner", "listings")),
    SignalType("legal_or_distress", ("qualifying", "negotiating", "closing", "delivering", "servicing"), (
        R(f"{SUE}", w=0.75),
        R("lawsuit|lawsuits|class-action|litigation|indictment|indicted|subpoena|subpoenaed|prosecutors|"
          "plaintiffs", w=0.75),
        R("class action|actions"),
        R("files|filed|filing|file for bankruptcy|insolvency|administration|protection|receivership"),
        R("bankruptcy|bankrupt|insolvency|insolvent|receivership|liquidation|administrators", w=0.75),
        R("chapter 11|7|15"),
        R("fined|penalty|penalties|antitrust|probe|probes|fraud|damages|sanctions|sanctioned|whistleblower",
          w=0.55),
        R("ordered|agrees|agreed|agree|to|must pay|settle|settles|settled ~? ~? ~? damages|fine|penalty|"
          "settlement|compensation|claims|charges|lawsuit|investors|customers"),
        R("court|judge|jury|regulator|regulators|commission|authorities|prosecutors ~? ~? ordered|rules|ruled|"
          "fined|fines|blocked|blocks|found|sued|charged|raided|investigating|opens"),
        R("under|opens|opened|launches|faces ~? investigation|probe|scrutiny"),
        R("investigation|investigating|investigates", w=0.45),
        R("recall|recalls|recalled", w=0.6),
        R("going concern"),
        R("credit downgrade|rating cut"),
        R("debt restructuring|default|defaults|pile"),
        R("missed ~? payment|payments"),
        R("liquidity crunch|crisis|squeeze"),
        R("downgrade|downgraded|defaults|defaulted|delisted|delisting|restatement|distressed|creditors",
          w=0.55),
    ), ("allegations", "alleges", "regulator", "settlement", "court")),
    SignalType("security_incident", ("prospecting", "qualifying", "delivering", "servicing"), (
        R("data breach|leak|breaches|exposure|theft"),
        R("breach|breached|hack|hacked|hacker|hackers|cyberattack|cyber-attack|cyberattacks|ransomware|malware|"
          "intrusion|credential-stuffing|phishing|spyware|ddos", w=0.7),
        R("cyber|security|ransomware attack|incident|breach|attacks"),
        R("attackers|hackers", w=0.6),
        R("threat actor|actors|group", w=0.6),
        R("stolen|leaked|exposed|compromised|hijacked credentials|passwords|data|records|information|accounts|"
          "details", w=0.75),
        R("unauthorized|unauthorised access"),
        R("outage|outages", w=0.6),
        R("vulnerability|vulnerabilities|zero-day|exploit|exploited|backdoor", w=0.6),
        R("accessed|exfiltrated|stole ~? ~? customer|user|personal|employee|sensitive data|information|records|"
          "accounts|portal|details", w=0.7),
    ), ("cybersecurity incident", "threat actor", "incident response")),
    SignalType("tech_initiative", ("prospecting", "qualifying", "proposing", "pricing"), (
        R("rfp|rfps|rfi|rfq|rfis", w=0.8),
        R("request for proposal|proposals|information|quotation|quote"),
        R(f"{MIGRATE} ~? ~? ~? ~? ~? to|onto|off", w=0.45),
        R(f"{MIGRATE} ~? ~? ~? ~? {SYSTEM}", w=0.6),
        R("migrate|migrates|migrated|migrating|migration|migrations|replatforming|re-platforming", w=0.7),
        R("modernization|modernisation|modernize|modernise|modernizes|modernises|modernizing|modernising|"
          "overhaul|overhauls|overhauling|digitization|digitalization|digitisation", w=0.6),
        R(f"replace|replaces|replacing|replaced|retire|retires|retiring ~? ~? ~? ~? legacy|{SYSTEM}|"
          "spreadsheets|mainframe|mainframes"),
        R(f"legacy {SYSTEM}|mainframe|mainframes|dispatch|tool", w=0.7),
        R(f"{SELECT} ~? ~? ~? ~? ~? {SYSTEM}", w=0.7),
        R(f"{SELECT} ~? ~? ~? for", w=0.5),
        R(f"use|uses|using|run|runs|running ~? ~? ~? ~? ~? {SYSTEM}", w=0.45),
        R("preferred|primary|strategic|standard|single|unified|common cloud|technology|it|software|platform|"
          "system|vendor|provider", w=0.6),
        R("digital transformation|workplace|strategy"),
        R("vendor|supplier|provider selection|evaluation|review|consolidation|shortlist|search"),
        R("evaluation|pilot|pilots|proof-of-concept", w=0.4),
        R("roll|rolls|rolling|rolled|deploy|deploys|deploying|deployed|extend|extends out? ~? ~? ~? ~? ~? to ~? "
          "~? employees|staff|stores|bankers|workers|teams|agents|branches|plants|factories|sites|users",
          w=0.7),
        R("consolidates|consolidate|consolidating|standardizes|standardises ~? ~? ~? ~? onto|on|into", w=0.6),
        R("seeks|seeking|issues|issued|launches|launched|opens ~? ~? ~? ~? rfp|tender|bids|proposals|vendors|"
          "suppliers", w=0.8),
    ), ("rfp", "vendor selection", "legacy systems", "system integrator")),
)
