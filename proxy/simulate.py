"""``sluice simulate``: a seeded generator of benign and model-extraction traffic.

Everything is built from grammars and vocabularies in this file (no downloads, no
model): a topic taxonomy of ~50 domains, question forms in seven languages, prose,
reviews, tickets, passages for retrieval, code in several languages, competition
math, multiple-choice items, agent tool traces. Each account is a small program
with its own ``random.Random`` (seeded from the run seed, its scenario and its
index), its own timezone, user agents, addresses and models, driven by a virtual
clock: human accounts follow a diurnal curve with sessions and think times,
machine accounts run jobs with concurrency and latency-driven spacing, and the
attackers vary from 24 h machine-regular to human-shaped to low and slow.

Output: trace records in the replay format (DESIGN.md, "Trace") sorted by ``ts``,
and one label record per account that sent at least one request::

    {"account": "acct-3f9c0a1d22be", "scenario": "rate_shaper", "label": "extraction", "requests": 2113}

Cover-traffic attackers add ``extraction_share`` (the share of their requests that
extract); accounts that act together (a sybil campaign, a team of one
organisation) add ``group``, an opaque id shared by the members.

Nothing about an attacker is meant to be separable by one artifact: account ids,
user agents, models, temperatures and length distributions come from pools shared
with benign accounts. ``usage`` is what an upstream would have reported: prompt
tokens from the text (~1.3 per word, ~1 per CJK character, code by characters),
completion tokens drawn for the scenario and never above ``max_tokens`` (times
``n``, as upstreams sum the choices).
"""

from __future__ import annotations

import argparse
import functools
import itertools
import math
import random
import re
import sys
import time as _time  # only for the CLI's elapsed-time note, never for the virtual clock
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import orjson

DEFAULT_START = 1764547200.0  # 2025-12-01 00:00:00 UTC, a Monday

CHAT = "/v1/chat/completions"
COMPLETIONS = "/v1/completions"
EMBEDDINGS = "/v1/embeddings"
RESPONSES = "/v1/responses"

# --------------------------------------------------------------------------------------
# Shared pools: user agents, models, timezones, addresses
# --------------------------------------------------------------------------------------

_UA_FAMILIES: list[tuple[float, str, Sequence[str]]] = [
    (30, "OpenAI/Python {}", ["1.35.3", "1.40.6", "1.42.0", "1.47.1", "1.51.2", "1.54.3", "1.54.4", "1.55.3",
                              "1.57.0", "1.58.1", "1.59.7", "1.61.1", "1.63.2", "1.66.3", "1.68.2"]),
    (8, "AsyncOpenAI/Python {}", ["1.40.6", "1.51.2", "1.54.4", "1.58.1", "1.61.1", "1.66.3"]),
    (12, "OpenAI/JS {}", ["4.52.7", "4.56.0", "4.67.3", "4.73.1", "4.77.0", "4.85.4"]),
    (4, "langchain-openai/{} OpenAI/Python 1.54.4", ["0.2.5", "0.2.9", "0.2.14", "0.3.1"]),
    (3, "llama-index/{} OpenAI/Python 1.51.2", ["0.11.20", "0.12.5", "0.12.11"]),
    (7, "python-httpx/{}", ["0.25.2", "0.27.0", "0.27.2", "0.28.1"]),
    (6, "python-requests/{}", ["2.28.2", "2.31.0", "2.32.3"]),
    (3, "Python/3.{} aiohttp/3.10.5", ["10", "11", "12"]),
    (3, "curl/{}", ["7.81.0", "8.5.0", "8.7.1", "8.11.0"]),
    (3, "axios/{}", ["1.6.8", "1.7.7", "1.7.9"]),
    (2, "Go-http-client/{}", ["1.1", "2.0"]),
    (2, "node-fetch/{}", ["1.0", "2.7.0"]),
    (1, "Java-http-client/{}", ["17.0.12", "21.0.4"]),
    (1, "okhttp/{}", ["4.12.0", "4.11.0"]),
]
USER_AGENTS: list[str] = []
_UA_WEIGHTS: list[float] = []
for _w, _fmt, _versions in _UA_FAMILIES:
    for _v in _versions:
        USER_AGENTS.append(_fmt.format(_v))
        _UA_WEIGHTS.append(_w / len(_versions))

# (model, weight, is_reasoning): one pool for every account, benign or not.
_CHAT_MODELS: list[tuple[str, float, bool]] = [
    ("gpt-4o-mini", 18, False), ("gpt-4o", 12, False), ("gpt-4.1", 9, False), ("gpt-4.1-mini", 12, False),
    ("gpt-4.1-nano", 4, False), ("gpt-5", 6, True), ("gpt-5-mini", 7, True), ("o3-mini", 3, True),
    ("o4-mini", 4, True), ("o3", 2, True), ("llama-3.3-70b-instruct", 5, False),
    ("qwen2.5-72b-instruct", 4, False), ("deepseek-v3", 3, False), ("mistral-large-latest", 2, False),
    ("qwen3-32b", 2, False),
]
CHAT_MODELS = [m for m, _, _ in _CHAT_MODELS]
_CHAT_MODEL_WEIGHTS = [w for _, w, _ in _CHAT_MODELS]
REASONING_MODELS = frozenset(m for m, _, r in _CHAT_MODELS if r)
NON_REASONING = [m for m, _, r in _CHAT_MODELS if not r]
_NON_REASONING_WEIGHTS = [w for _, w, r in _CHAT_MODELS if not r]
COMPLETION_MODELS = ["gpt-3.5-turbo-instruct", "davinci-002", "babbage-002", "llama-3.1-8b", "qwen2.5-7b"]
EMBEDDING_MODELS = ["text-embedding-3-small", "text-embedding-3-large", "text-embedding-ada-002", "bge-m3"]

# (utc offset in hours, weight, preferred languages)
_TIMEZONES: list[tuple[float, float, str]] = [
    (-8, 14, "en"), (-7, 4, "en"), (-6, 6, "en"), (-5, 16, "en"), (-3, 4, "es"), (0, 8, "en"), (1, 10, "defr"),
    (1, 3, "es"), (2, 3, "en"), (3, 4, "ru"), (5.5, 8, "en"), (8, 12, "zh"), (9, 5, "ja"), (10, 2, "en"),
]

# Diurnal activity by local hour (relative rates).
PROFILE_WORK = [0.04, 0.02, 0.02, 0.02, 0.03, 0.06, 0.18, 0.45, 0.9, 1.3, 1.4, 1.3, 0.95, 1.2, 1.4, 1.4, 1.25,
                1.0, 0.6, 0.42, 0.36, 0.3, 0.18, 0.08]
PROFILE_CASUAL = [0.32, 0.16, 0.08, 0.05, 0.05, 0.1, 0.28, 0.55, 0.85, 0.95, 1.0, 1.05, 1.1, 1.0, 0.95, 0.95,
                  0.95, 1.05, 1.15, 1.3, 1.45, 1.4, 1.05, 0.65]
PROFILE_GLOBAL = [0.75, 0.7, 0.68, 0.66, 0.68, 0.72, 0.8, 0.9, 1.0, 1.08, 1.12, 1.15, 1.12, 1.15, 1.18, 1.2,
                  1.2, 1.15, 1.1, 1.05, 1.0, 0.95, 0.88, 0.8]
PROFILE_FLAT = [1.0] * 24


def _ipv4(rng: random.Random, block: str | None = None) -> str:
    block = block or rng.choice(("192.0.2", "198.51.100", "203.0.113"))
    return f"{block}.{rng.randint(1, 254)}"


def _ipv6(rng: random.Random, prefix: str | None = None) -> str:
    prefix = prefix or f"2001:db8:{rng.randint(1, 0xffff):x}:{rng.randint(0, 0xffff):x}"
    return f"{prefix}::{rng.randint(1, 0xffff):x}:{rng.randint(1, 0xffff):x}"


def _random_ip(rng: random.Random) -> str:
    return _ipv4(rng) if rng.random() < 0.4 else _ipv6(rng)


# --------------------------------------------------------------------------------------
# Topic taxonomy: "@domain|中文" lines, then "subtopic|中文: concept|中文; concept|中文; ..."
# --------------------------------------------------------------------------------------

_TAXONOMY_SRC = """
@mathematics|数学
algebra|代数: quadratic equations|一元二次方程; polynomial factoring|多项式因式分解; systems of linear equations|线性方程组; logarithms|对数; complex numbers|复数; inequalities|不等式
calculus|微积分: limits|极限; the chain rule|链式法则; integration by parts|分部积分; Taylor series|泰勒级数; partial derivatives|偏导数; the fundamental theorem of calculus|微积分基本定理
linear algebra|线性代数: eigenvalues and eigenvectors|特征值与特征向量; matrix determinants|行列式; singular value decomposition|奇异值分解; vector spaces|向量空间; orthogonal projections|正交投影
number theory|数论: prime factorization|质因数分解; modular arithmetic|模运算; the Chinese remainder theorem|中国剩余定理; Fermat's little theorem|费马小定理; Diophantine equations|丢番图方程
geometry|几何: the Pythagorean theorem|勾股定理; similar triangles|相似三角形; conic sections|圆锥曲线; the law of cosines|余弦定理; inscribed angles|圆周角
combinatorics|组合数学: permutations and combinations|排列组合; the pigeonhole principle|鸽巢原理; inclusion-exclusion|容斥原理; generating functions|生成函数; Catalan numbers|卡特兰数
@statistics|统计学
probability|概率论: conditional probability|条件概率; Bayes' theorem|贝叶斯定理; the law of large numbers|大数定律; the central limit theorem|中心极限定理; Markov chains|马尔可夫链
statistical inference|统计推断: hypothesis testing|假设检验; p-values|p值; confidence intervals|置信区间; maximum likelihood estimation|最大似然估计; Bayesian inference|贝叶斯推断
regression|回归分析: linear regression|线性回归; logistic regression|逻辑回归; multicollinearity|多重共线性; heteroscedasticity|异方差; regularization|正则化
experimental design|实验设计: A/B testing|A/B测试; randomized controlled trials|随机对照试验; statistical power|统计功效; confounding variables|混杂变量
@physics|物理学
classical mechanics|经典力学: Newton's laws of motion|牛顿运动定律; conservation of momentum|动量守恒; angular momentum|角动量; simple harmonic motion|简谐运动; projectile motion|抛体运动; Lagrangian mechanics|拉格朗日力学
electromagnetism|电磁学: Maxwell's equations|麦克斯韦方程组; Faraday's law of induction|法拉第电磁感应定律; electric fields|电场; Ohm's law|欧姆定律; electromagnetic waves|电磁波
thermodynamics|热力学: entropy|熵; the second law of thermodynamics|热力学第二定律; the Carnot cycle|卡诺循环; heat capacity|热容; the ideal gas law|理想气体状态方程
quantum mechanics|量子力学: the uncertainty principle|不确定性原理; wave-particle duality|波粒二象性; the Schrödinger equation|薛定谔方程; quantum entanglement|量子纠缠; quantum tunneling|量子隧穿
relativity|相对论: time dilation|时间膨胀; special relativity|狭义相对论; general relativity|广义相对论; mass-energy equivalence|质能方程
@chemistry|化学
general chemistry|普通化学: chemical bonding|化学键; periodic trends|元素周期律; stoichiometry|化学计量学; redox reactions|氧化还原反应; acids and bases|酸碱理论
organic chemistry|有机化学: SN1 and SN2 reactions|SN1与SN2反应; aromaticity|芳香性; chirality|手性; the Diels-Alder reaction|狄尔斯-阿尔德反应; functional groups|官能团
physical chemistry|物理化学: reaction kinetics|反应动力学; chemical equilibrium|化学平衡; Gibbs free energy|吉布斯自由能; electrochemical cells|原电池
biochemistry|生物化学: enzyme kinetics|酶动力学; protein folding|蛋白质折叠; glycolysis|糖酵解; the Krebs cycle|三羧酸循环
@biology|生物学
cell biology|细胞生物学: mitosis and meiosis|有丝分裂与减数分裂; cell membranes|细胞膜; mitochondria|线粒体; cell signaling|细胞信号转导; apoptosis|细胞凋亡
genetics|遗传学: Mendelian inheritance|孟德尔遗传; DNA replication|DNA复制; gene expression|基因表达; CRISPR gene editing|CRISPR基因编辑; epigenetics|表观遗传学
evolution|进化生物学: natural selection|自然选择; genetic drift|遗传漂变; speciation|物种形成; convergent evolution|趋同进化
ecology|生态学: food webs|食物网; keystone species|关键物种; ecological succession|生态演替; the nitrogen cycle|氮循环
neuroscience|神经科学: action potentials|动作电位; synaptic plasticity|突触可塑性; neurotransmitters|神经递质; the blood-brain barrier|血脑屏障
@medicine|医学
cardiology|心脏病学: hypertension|高血压; atrial fibrillation|心房颤动; heart failure|心力衰竭; myocardial infarction|心肌梗死; statin therapy|他汀类药物治疗
endocrinology|内分泌学: type 2 diabetes|2型糖尿病; hypothyroidism|甲状腺功能减退; insulin resistance|胰岛素抵抗; Cushing's syndrome|库欣综合征
infectious disease|感染病学: antibiotic resistance|抗生素耐药性; sepsis|脓毒症; tuberculosis|结核病; vaccination schedules|疫苗接种程序; influenza|流行性感冒
pharmacology|药理学: drug half-life|药物半衰期; pharmacokinetics|药代动力学; drug interactions|药物相互作用; NSAIDs|非甾体抗炎药
public health|公共卫生: cohort studies|队列研究; herd immunity|群体免疫; cancer screening programs|癌症筛查项目
@law|法律
contract law|合同法: offer and acceptance|要约与承诺; consideration|对价; breach of contract|违约; force majeure clauses|不可抗力条款; liquidated damages|违约金条款
tort law|侵权法: negligence|过失侵权; strict liability|严格责任; defamation|诽谤; the duty of care|注意义务
criminal law|刑法: mens rea|犯罪意图; self-defense|正当防卫; the presumption of innocence|无罪推定; plea bargaining|辩诉交易
constitutional law|宪法: judicial review|司法审查; separation of powers|三权分立; freedom of speech|言论自由; due process|正当程序
intellectual property|知识产权: fair use in copyright|版权合理使用; patent eligibility|专利适格性; trademark infringement|商标侵权; trade secrets|商业秘密
@finance|金融学
corporate finance|公司金融: discounted cash flow valuation|现金流折现估值; the weighted average cost of capital|加权平均资本成本; capital structure|资本结构; leveraged buyouts|杠杆收购
investments|投资学: the capital asset pricing model|资本资产定价模型; portfolio diversification|投资组合分散化; index funds|指数基金; bond duration|债券久期; the efficient market hypothesis|有效市场假说
derivatives|衍生品: options pricing|期权定价; the Black-Scholes model|布莱克-斯科尔斯模型; futures contracts|期货合约; interest rate swaps|利率互换
banking|银行业: fractional reserve banking|部分准备金制度; Basel III capital requirements|巴塞尔协议III资本要求; credit risk|信用风险; the liquidity coverage ratio|流动性覆盖率
@economics|经济学
microeconomics|微观经济学: supply and demand|供求关系; price elasticity|价格弹性; opportunity cost|机会成本; market failure|市场失灵; game theory|博弈论
macroeconomics|宏观经济学: inflation|通货膨胀; monetary policy|货币政策; fiscal multipliers|财政乘数; the Phillips curve|菲利普斯曲线; GDP measurement|国内生产总值核算
international trade|国际贸易: comparative advantage|比较优势; tariffs|关税; exchange rates|汇率; the balance of payments|国际收支
behavioral economics|行为经济学: loss aversion|损失厌恶; anchoring bias|锚定效应; nudges|助推理论
@history|历史
ancient history|古代史: the Roman Republic|罗马共和国; the Qin unification of China|秦统一六国; ancient Egypt|古埃及; the Peloponnesian War|伯罗奔尼撒战争
medieval history|中世纪史: feudalism|封建制度; the Crusades|十字军东征; the Black Death|黑死病; the Tang dynasty|唐朝
modern history|近代史: the French Revolution|法国大革命; the Industrial Revolution|工业革命; the Meiji Restoration|明治维新; the Opium Wars|鸦片战争
twentieth century|二十世纪史: the causes of World War I|第一次世界大战的起因; the Cold War|冷战; decolonization|去殖民化; the fall of the Berlin Wall|柏林墙倒塌
@geography|地理学
physical geography|自然地理: plate tectonics|板块构造; monsoon climates|季风气候; river deltas|河流三角洲; desertification|荒漠化
human geography|人文地理: urbanization|城市化; population migration|人口迁移; the demographic transition|人口转变
regional geography|区域地理: the Himalayas|喜马拉雅山脉; the Amazon basin|亚马孙盆地; the Sahel|萨赫勒地区; the Yangtze River|长江
@literature|文学
classic works|经典作品: Shakespeare's tragedies|莎士比亚悲剧; Homer's Odyssey|荷马史诗《奥德赛》; Dream of the Red Chamber|《红楼梦》; Don Quixote|《堂吉诃德》
literary theory|文学理论: unreliable narrators|不可靠叙述者; magical realism|魔幻现实主义; stream of consciousness|意识流; postmodern fiction|后现代主义小说
poetry|诗歌: the sonnet form|十四行诗; Tang poetry|唐诗; haiku|俳句; free verse|自由诗
@philosophy|哲学
ethics|伦理学: utilitarianism|功利主义; Kantian deontology|康德义务论; virtue ethics|美德伦理学; the trolley problem|电车难题
epistemology|认识论: the Gettier problem|葛梯尔问题; empiricism versus rationalism|经验主义与理性主义; philosophical skepticism|怀疑论
metaphysics|形而上学: free will and determinism|自由意志与决定论; personal identity|人格同一性; the mind-body problem|身心问题
political philosophy|政治哲学: social contract theory|社会契约论; Rawls's theory of justice|罗尔斯的正义论; Confucian ethics|儒家伦理
@psychology|心理学
cognitive psychology|认知心理学: working memory|工作记忆; cognitive biases|认知偏差; selective attention|选择性注意
developmental psychology|发展心理学: attachment theory|依恋理论; Piaget's stages of development|皮亚杰认知发展阶段
clinical psychology|临床心理学: cognitive behavioral therapy|认知行为疗法; generalized anxiety disorder|广泛性焦虑障碍; major depression|重度抑郁症
social psychology|社会心理学: conformity|从众心理; the bystander effect|旁观者效应; cognitive dissonance|认知失调
@sociology|社会学
social structure|社会结构: social stratification|社会分层; socialization|社会化; social capital|社会资本; globalization|全球化
@political science|政治学
comparative politics|比较政治: parliamentary versus presidential systems|议会制与总统制; electoral systems|选举制度; federalism|联邦制
international relations|国际关系: realism in international relations|国际关系现实主义; soft power|软实力; nuclear deterrence|核威慑
@linguistics|语言学
phonology|音系学: phonemes|音位; tone languages|声调语言
syntax|句法学: generative grammar|生成语法; word order typology|语序类型学
sociolinguistics|社会语言学: code-switching|语码转换; language change|语言演变; pidgins and creoles|皮钦语和克里奥尔语
@algorithms|算法
sorting and searching|排序与搜索: quicksort|快速排序; merge sort|归并排序; binary search|二分查找; heapsort|堆排序
graph algorithms|图算法: Dijkstra's algorithm|迪杰斯特拉算法; breadth-first search|广度优先搜索; minimum spanning trees|最小生成树; topological sorting|拓扑排序; max-flow min-cut|最大流最小割
dynamic programming|动态规划: the knapsack problem|背包问题; longest common subsequence|最长公共子序列; edit distance|编辑距离; memoization|记忆化搜索
data structures|数据结构: hash tables|哈希表; balanced binary search trees|平衡二叉搜索树; segment trees|线段树; union-find|并查集; tries|字典树
complexity theory|计算复杂性: NP-completeness|NP完全性; big-O notation|大O表示法; amortized analysis|均摊分析
@programming languages|编程语言
python|Python: Python decorators|Python装饰器; Python generators|Python生成器; the GIL|全局解释器锁; asyncio|asyncio异步编程; Python type hints|Python类型注解
javascript|JavaScript: JavaScript closures|JavaScript闭包; the event loop|事件循环; async/await in JavaScript|JavaScript的async/await; prototypal inheritance|原型继承
rust|Rust: Rust ownership and borrowing|Rust所有权与借用; Rust lifetimes|Rust生命周期; traits in Rust|Rust的trait
other languages|其他语言: goroutines and channels in Go|Go协程与通道; Java generics|Java泛型; C++ move semantics|C++移动语义; monads in Haskell|Haskell单子; SQL window functions|SQL窗口函数
@software engineering|软件工程
software design|软件设计: SOLID principles|SOLID原则; design patterns|设计模式; dependency injection|依赖注入; microservices architecture|微服务架构
engineering practice|工程实践: unit testing|单元测试; code review|代码评审; continuous integration|持续集成; technical debt|技术债务
version control|版本控制: git rebase versus merge|git rebase与merge的区别; branching strategies|分支策略
@databases|数据库
database systems|数据库系统: database indexing|数据库索引; transaction isolation levels|事务隔离级别; database normalization|数据库范式; query optimization|查询优化; NoSQL databases|NoSQL数据库; sharding|分库分表
@networking|计算机网络
protocols|网络协议: the TCP three-way handshake|TCP三次握手; DNS resolution|DNS解析; HTTP/2 and HTTP/3|HTTP/2与HTTP/3; TLS handshakes|TLS握手; load balancing|负载均衡; BGP routing|BGP路由
@cybersecurity|网络安全
application security|应用安全: SQL injection|SQL注入; cross-site scripting|跨站脚本攻击; password hashing|密码哈希; threat modeling|威胁建模
cryptography|密码学: public key cryptography|公钥密码学; zero trust architecture|零信任架构; elliptic curve cryptography|椭圆曲线密码学
@machine learning|机器学习
ml fundamentals|机器学习基础: gradient descent|梯度下降; overfitting|过拟合; the bias-variance tradeoff|偏差-方差权衡; cross-validation|交叉验证
deep learning|深度学习: backpropagation|反向传播; convolutional neural networks|卷积神经网络; the transformer architecture|Transformer架构; attention mechanisms|注意力机制; batch normalization|批归一化
applied machine learning|应用机器学习: recommendation systems|推荐系统; reinforcement learning|强化学习; random forests|随机森林; k-means clustering|K均值聚类
@astronomy|天文学
astrophysics|天体物理: black holes|黑洞; the life cycle of stars|恒星的生命周期; exoplanet detection|系外行星探测; the cosmic microwave background|宇宙微波背景辐射; dark matter|暗物质
@earth science|地球科学
geology|地质学: earthquakes|地震; volcanoes|火山; the rock cycle|岩石循环; ocean currents|洋流; the water cycle|水循环
@environment|环境科学
climate|气候: the greenhouse effect|温室效应; carbon capture|碳捕集; ocean acidification|海洋酸化; renewable energy|可再生能源; biodiversity loss|生物多样性丧失
@mechanical engineering|机械工程
mechanics of materials|材料力学: stress and strain|应力与应变; heat exchangers|换热器; gear ratios|齿轮传动比; fluid dynamics|流体力学; finite element analysis|有限元分析
@electrical engineering|电气工程
circuits and signals|电路与信号: transistors|晶体管; operational amplifiers|运算放大器; the Fourier transform|傅里叶变换; PID controllers|PID控制器; power grids|电网
@architecture|建筑学
architectural styles|建筑风格: Gothic architecture|哥特式建筑; the Bauhaus|包豪斯; passive house design|被动式建筑; siheyuan courtyard houses|四合院
@art history|艺术史
movements|艺术流派: the Renaissance|文艺复兴; Impressionism|印象派; Cubism|立体主义; Chinese ink painting|中国水墨画; ukiyo-e woodblock prints|浮世绘
@music|音乐
music theory|乐理: chord progressions|和弦进行; counterpoint|对位法; the circle of fifths|五度圈; jazz improvisation|爵士即兴演奏
music history|音乐史: the history of hip hop|嘻哈音乐的历史; Beethoven's symphonies|贝多芬交响曲; learning the guitar|学吉他
@film|电影
film studies|电影研究: film noir|黑色电影; the three-act structure|三幕剧结构; the French New Wave|法国新浪潮; lighting in cinematography|电影布光; Hayao Miyazaki's films|宫崎骏的电影
@cooking|烹饪
techniques|烹饪技巧: sourdough bread|酸面包; the Maillard reaction|美拉德反应; knife skills|刀工; braising|炖煮; Sichuan cooking|川菜; home fermentation|家庭发酵; fresh pasta|手工意面
@nutrition|营养学
diet|饮食: protein intake|蛋白质摄入; intermittent fasting|间歇性断食; dietary fiber|膳食纤维; vitamin D|维生素D; the Mediterranean diet|地中海饮食
@sports and fitness|体育与健身
training|训练: strength training|力量训练; marathon training|马拉松训练; the offside rule in soccer|足球越位规则; basketball defense|篮球防守; swimming technique|游泳技术; yoga|瑜伽; recovery and sleep for athletes|运动员的恢复与睡眠
@travel|旅行
destinations|目的地: travel in Japan|日本旅行; backpacking in Southeast Asia|东南亚背包旅行; visiting Paris|巴黎旅游; travel insurance|旅行保险; jet lag|时差反应; road trips in the American West|美国西部自驾游
@personal finance|个人理财
money management|理财: budgeting|预算规划; emergency funds|应急基金; retirement accounts|退休账户; credit scores|信用评分; mortgages|房贷; compound interest|复利
@business management|企业管理
management|管理: OKRs|OKR目标管理; supply chain management|供应链管理; lean manufacturing|精益生产; negotiation|谈判技巧; startup fundraising|创业融资; managing remote teams|远程团队管理
@marketing|市场营销
marketing practice|营销实务: brand positioning|品牌定位; search engine optimization|搜索引擎优化; customer segmentation|客户细分; content marketing|内容营销; conversion rate optimization|转化率优化
@education|教育学
learning science|学习科学: spaced repetition|间隔重复; project-based learning|项目式学习; formative assessment|形成性评价; classroom management|课堂管理
@parenting|育儿
child development|儿童成长: toddler sleep routines|幼儿睡眠习惯; screen time for kids|儿童屏幕时间; talking with teenagers|与青春期孩子沟通; picky eating|挑食
@gardening|园艺
growing|种植: composting|堆肥; growing tomatoes|种植番茄; pruning fruit trees|果树修剪; houseplants|室内盆栽; soil pH|土壤酸碱度
@home improvement|家居维修
repairs|维修: fixing a leaky faucet|修理漏水的水龙头; drywall repair|石膏板修补; paint finishes|油漆光泽度选择; attic insulation|阁楼保温; installing a ceiling fan|安装吊扇
@pets|宠物
pet care|宠物护理: house training a puppy|幼犬如厕训练; cat behavior|猫的行为; the aquarium nitrogen cycle|鱼缸硝化循环; pet nutrition|宠物营养
@religion and mythology|宗教与神话
traditions|传统: Buddhism|佛教; Greek mythology|希腊神话; Norse mythology|北欧神话; the history of Christianity|基督教的历史; Taoism|道教; Hinduism|印度教
@automotive|汽车
vehicles|车辆: electric vehicle batteries|电动汽车电池; how a combustion engine works|内燃机原理; car maintenance schedules|汽车保养周期; hybrid drivetrains|混合动力系统
@games|游戏
play|玩法: game design|游戏设计; speedrunning|速通; esports|电子竞技; chess openings|国际象棋开局; Go strategy|围棋策略
@agriculture|农业
farming|耕作: crop rotation|轮作; precision agriculture|精准农业; drip irrigation|滴灌; rice cultivation|水稻种植
@fashion|时尚
style|风格: capsule wardrobes|胶囊衣橱; sustainable fashion|可持续时尚; fabric types|面料种类
@cloud and devops|云计算与运维
infrastructure|基础设施: Kubernetes|Kubernetes; Docker containers|Docker容器; infrastructure as code|基础设施即代码; observability|可观测性; serverless computing|无服务器计算
"""


class Concept:
    __slots__ = ("en", "zh", "sub", "sub_zh", "domain", "domain_zh", "siblings")

    def __init__(self, en: str, zh: str, sub: str, sub_zh: str, domain: str, domain_zh: str) -> None:
        self.en, self.zh, self.sub, self.sub_zh, self.domain, self.domain_zh = en, zh, sub, sub_zh, domain, domain_zh
        self.siblings: list[Concept] = []


def _parse_taxonomy(src: str) -> tuple[list[Concept], dict[str, list[Concept]], dict[str, str]]:
    concepts: list[Concept] = []
    by_domain: dict[str, list[Concept]] = {}
    domain_zh: dict[str, str] = {}
    domain = dzh = ""
    for line in src.strip().splitlines():
        if line.startswith("@"):
            domain, dzh = line[1:].split("|")
            domain_zh[domain] = dzh
            by_domain[domain] = []
            continue
        head, items = line.split(": ", 1)
        sub, szh = head.split("|")
        group = []
        for item in items.split("; "):
            en, zh = item.split("|")
            group.append(Concept(en, zh, sub, szh, domain, dzh))
        for c in group:
            c.siblings = [o for o in group if o is not c]
        concepts.extend(group)
        by_domain[domain].extend(group)
    for cs in by_domain.values():  # one-subtopic domains: siblings are the whole domain
        for c in cs:
            if len(c.siblings) < 2:
                c.siblings = [o for o in cs if o is not c]
    return concepts, by_domain, domain_zh


CONCEPTS, BY_DOMAIN, DOMAIN_ZH = _parse_taxonomy(_TAXONOMY_SRC)
DOMAINS = list(BY_DOMAIN)

# Facets of a concept: what a question can be about.
ASPECTS = [
    "the definition and intuition", "the history", "the key formulas", "a worked example", "common misconceptions",
    "real-world applications", "the limitations", "the main open problems", "how it is taught", "the underlying assumptions",
    "the most important results", "edge cases", "how it is measured", "its relationship to neighbouring ideas",
    "the typical exam questions", "the practical pitfalls", "the standard proof or derivation", "advanced extensions",
]
ASPECTS_ZH = ["基本定义和直观理解", "历史发展", "核心公式", "典型例题", "常见误区", "实际应用", "局限性", "前沿问题",
              "教学方法", "基本假设", "重要结论", "推导过程", "进阶内容", "与相关概念的联系"]

AUDIENCES = [
    "complete beginners", "high school students", "first-year university students", "graduate students",
    "software engineers", "product managers", "nurses", "small business owners", "retirees", "middle schoolers",
    "data scientists", "policy makers", "journalists", "ESL learners", "self-taught programmers", "medical students",
    "law students", "parents", "teachers", "investors", "hobbyists", "non-native English speakers", "executives",
]
AUDIENCE_ZH = ["零基础的初学者", "高中生", "大一新生", "研究生", "软件工程师", "产品经理", "中学生", "数据分析师", "中小学老师", "家长"]

# --------------------------------------------------------------------------------------
# Multilingual concepts and question forms
# --------------------------------------------------------------------------------------

LANGS = ["en", "zh", "es", "fr", "de", "ja", "ru"]
LANG_NAMES = {"en": "English", "zh": "Chinese", "es": "Spanish", "fr": "French", "de": "German", "ja": "Japanese",
              "ru": "Russian", "pt": "Portuguese", "it": "Italian", "ko": "Korean", "nl": "Dutch", "tr": "Turkish"}

_MULTI_SRC = """
photosynthesis|光合作用|la fotosíntesis|la photosynthèse|die Photosynthese|光合成|фотосинтез
inflation|通货膨胀|la inflación|l'inflation|die Inflation|インフレ|инфляция
the theory of relativity|相对论|la teoría de la relatividad|la théorie de la relativité|die Relativitätstheorie|相対性理論|теория относительности
climate change|气候变化|el cambio climático|le changement climatique|der Klimawandel|気候変動|изменение климата
machine learning|机器学习|el aprendizaje automático|l'apprentissage automatique|das maschinelle Lernen|機械学習|машинное обучение
the French Revolution|法国大革命|la Revolución francesa|la Révolution française|die Französische Revolution|フランス革命|Великая французская революция
black holes|黑洞|los agujeros negros|les trous noirs|Schwarze Löcher|ブラックホール|чёрные дыры
the immune system|免疫系统|el sistema inmunitario|le système immunitaire|das Immunsystem|免疫システム|иммунная система
compound interest|复利|el interés compuesto|les intérêts composés|der Zinseszins|複利|сложный процент
supply and demand|供求关系|la oferta y la demanda|l'offre et la demande|Angebot und Nachfrage|需要と供給|спрос и предложение
the Pythagorean theorem|勾股定理|el teorema de Pitágoras|le théorème de Pythagore|der Satz des Pythagoras|三平方の定理|теорема Пифагора
DNA replication|DNA复制|la replicación del ADN|la réplication de l'ADN|die DNA-Replikation|DNAの複製|репликация ДНК
quantum entanglement|量子纠缠|el entrelazamiento cuántico|l'intrication quantique|die Quantenverschränkung|量子もつれ|квантовая запутанность
blockchain technology|区块链技术|la tecnología blockchain|la technologie blockchain|die Blockchain-Technologie|ブロックチェーン技術|технология блокчейн
the Industrial Revolution|工业革命|la Revolución Industrial|la révolution industrielle|die industrielle Revolution|産業革命|промышленная революция
neural networks|神经网络|las redes neuronales|les réseaux de neurones|neuronale Netze|ニューラルネットワーク|нейронные сети
plate tectonics|板块构造学说|la tectónica de placas|la tectonique des plaques|die Plattentektonik|プレートテクトニクス|тектоника плит
the water cycle|水循环|el ciclo del agua|le cycle de l'eau|der Wasserkreislauf|水の循環|круговорот воды
natural selection|自然选择|la selección natural|la sélection naturelle|die natürliche Selektion|自然選択|естественный отбор
public key cryptography|公钥密码学|la criptografía de clave pública|la cryptographie à clé publique|die Public-Key-Kryptografie|公開鍵暗号|криптография с открытым ключом
the greenhouse effect|温室效应|el efecto invernadero|l'effet de serre|der Treibhauseffekt|温室効果|парниковый эффект
vaccines|疫苗|las vacunas|les vaccins|Impfstoffe|ワクチン|вакцины
the Roman Empire|罗马帝国|el Imperio romano|l'Empire romain|das Römische Reich|ローマ帝国|Римская империя
entropy|熵|la entropía|l'entropie|die Entropie|エントロピー|энтропия
the stock market|股票市场|el mercado de valores|la bourse|der Aktienmarkt|株式市場|фондовый рынок
sorting algorithms|排序算法|los algoritmos de ordenación|les algorithmes de tri|Sortieralgorithmen|ソートアルゴリズム|алгоритмы сортировки
renewable energy|可再生能源|las energías renovables|les énergies renouvelables|erneuerbare Energien|再生可能エネルギー|возобновляемая энергетика
the human heart|人类的心脏|el corazón humano|le cœur humain|das menschliche Herz|人間の心臓|сердце человека
probability theory|概率论|la teoría de la probabilidad|la théorie des probabilités|die Wahrscheinlichkeitstheorie|確率論|теория вероятностей
democracy|民主制度|la democracia|la démocratie|die Demokratie|民主主義|демократия
antibiotics|抗生素|los antibióticos|les antibiotiques|Antibiotika|抗生物質|антибиотики
the Cold War|冷战|la Guerra Fría|la guerre froide|der Kalte Krieg|冷戦|холодная война
volcanoes|火山|los volcanes|les volcans|Vulkane|火山|вулканы
existentialism|存在主义|el existencialismo|l'existentialisme|der Existenzialismus|実存主義|экзистенциализм
the derivative in calculus|微积分中的导数|la derivada en el cálculo|la dérivée en analyse|die Ableitung in der Analysis|微分の導関数|производная в математическом анализе
recursion|递归|la recursión|la récursivité|die Rekursion|再帰|рекурсия
the Silk Road|丝绸之路|la Ruta de la Seda|la route de la soie|die Seidenstraße|シルクロード|Великий шёлковый путь
sleep|睡眠|el sueño|le sommeil|der Schlaf|睡眠|сон
opportunity cost|机会成本|el costo de oportunidad|le coût d'opportunité|die Opportunitätskosten|機会費用|альтернативные издержки
the Maillard reaction|美拉德反应|la reacción de Maillard|la réaction de Maillard|die Maillard-Reaktion|メイラード反応|реакция Майяра
"""
MULTI: list[dict[str, str]] = [dict(zip(LANGS, line.split("|"))) for line in _MULTI_SRC.strip().splitlines()]

Q_FORMS: dict[str, list[str]] = {
    "zh": ["什么是{c}？", "请解释一下{c}。", "{c}的基本原理是什么？", "能详细介绍一下{c}吗？", "为什么{c}很重要？",
           "请用通俗易懂的语言解释{c}。", "{c}有哪些实际应用？", "关于{c}，有哪些常见的误解？", "请写一篇关于{c}的短文。",
           "如果要给高中生讲{c}，你会怎么讲？", "我最近在学{d}，对{c}不太理解，能帮我讲讲吗？", "{c}是怎么被发现或提出的？",
           "请总结一下{c}的要点。", "{c}和{c2}之间有什么关系？", "能举一个关于{c}的具体例子吗？", "{c}在{d}里为什么这么重要？"],
    "es": ["¿Qué es {c}?", "¿Puedes explicarme {c} de forma sencilla?", "¿Por qué es importante {c}?",
           "Explica {c} con un ejemplo concreto.", "¿Cuáles son las aplicaciones prácticas de {c}?",
           "Escribe un resumen sobre {c} para estudiantes.", "¿Cómo funciona {c}?", "Háblame de {c}, por favor."],
    "fr": ["Qu'est-ce que {c} ?", "Peux-tu m'expliquer {c} simplement ?", "Explique {c} avec un exemple concret.",
           "Comment fonctionne {c} ?", "Rédige un résumé sur {c} pour des lycéens.", "Quels sont les enjeux de {c} ?",
           "Parle-moi de {c}, s'il te plaît."],
    "de": ["Was ist {c}?", "Kannst du mir erklären, was {c} ist?", "Wie funktioniert {c}?", "Warum ist {c} wichtig?",
           "Schreib eine kurze Zusammenfassung zum Thema „{c}“.", "Gib mir ein konkretes Beispiel zum Thema „{c}“.",
           "Was sollte man über {c} unbedingt wissen?"],
    "ja": ["{c}とは何ですか？", "{c}について分かりやすく説明してください。", "{c}の仕組みを詳しく教えてください。",
           "なぜ{c}は重要なのですか？", "{c}の具体例を挙げてください。", "{c}について高校生向けに解説してください。",
           "{c}のメリットとデメリットを教えてください。"],
    "ru": ["Что такое {c}?", "Объясни простыми словами, что такое {c}.", "Почему {c} — это важно?",
           "Приведи пример по теме «{c}».", "Расскажи подробно о теме «{c}».", "Как устроено явление «{c}»?",
           "Напиши краткий конспект по теме «{c}»."],
}

COT: dict[str, list[str]] = {
    "en": ["Think step by step.", "Let's think step by step.", "Explain your reasoning in detail.",
           "Please reason step by step and show all of your work.", "Walk through your reasoning before giving the final answer.",
           "Think carefully and explain each step.", "Show your full chain of reasoning.",
           "Explain in detail, step by step, and justify each claim.", "Before answering, reason through the problem thoroughly.",
           "Break your reasoning into numbered steps.", "Give a detailed, step-by-step explanation.",
           "Explain it step by step.", "Reason it out carefully, then give a final answer."],
    "zh": ["请一步一步地思考。", "请详细解释你的推理过程。", "详细解释。", "请给出完整的推导过程。", "请逐步分析，并在最后给出结论。",
           "先思考，再回答。", "请展示你的思考过程。", "回答时请尽量详细，分点说明。", "请一步一步地思考，并详细解释每一步。",
           "请详细解释原因。"],
    "es": ["Piensa paso a paso.", "Explica tu razonamiento en detalle."],
    "fr": ["Réfléchis étape par étape.", "Explique ton raisonnement en détail."],
    "de": ["Denke Schritt für Schritt nach.", "Erkläre deine Überlegungen ausführlich."],
    "ja": ["ステップバイステップで考えてください。", "推論の過程を詳しく説明してください。"],
    "ru": ["Рассуждай шаг за шагом.", "Подробно объясни ход рассуждений."],
}

_ELISIONS = [(" de les ", " des "), (" à les ", " aux "), (" de le ", " du "), (" à le ", " au "),
             (" de el ", " del "), (" a el ", " al ")]


def _fix_grammar(text: str) -> str:
    for a, b in _ELISIONS:
        if a in text:
            text = text.replace(a, b)
    return text.replace("Qu'est-ce que les ", "Que sont les ")


# English question forms. {c} concept, {c2} a sibling, {s} subtopic, {d} domain, {aud} audience, {a} aspect.
Q_CASUAL = [
    "What is {c}?", "what's {c}", "Can you explain {c}?", "Explain {c} like I'm five.", "How does {c} work?",
    "Why does {c} matter in {d}?", "What's the difference between {c} and {c2}?", "Give me a simple example of {c}.",
    "I'm studying {s} and I'm confused about {c}. Can you help?", "Summarize {c} in a few sentences.",
    "What are the main criticisms of {c}?", "How is {c} used in practice?", "Is {c} still relevant today?",
    "What should I read to learn more about {c}?", "Quick question: how does {c} relate to {c2}?",
    "My teacher mentioned {c} today and I didn't follow at all. What is it?", "Can you give me 3 practice questions on {c}?",
    "how would you explain {c} to {aud}", "What are common mistakes people make with {c}?",
    "Compare {c} and {c2} in a table.", "Write a short paragraph about {c} for my notes.", "What's the history behind {c}?",
    "tl;dr of {c}?", "What are the key rules or formulas for {c}?", "Explain {c} with an analogy.",
    "is {c} the same thing as {c2}?", "I keep mixing up {c} and {c2}. How do I remember the difference?",
    "What's a good way to get started with {c}?", "Any tips for understanding {c}? I've read the wiki page twice.",
    "How would {c} apply to my situation? I work in {d2}.", "Can you quiz me on {c}?",
    "Why do people say {c} is hard?", "What would be a good project to practice {c}?",
    "Which is more useful to learn first, {c} or {c2}?", "Give me a one-line definition of {c}.",
    "Hey, can you help me understand {c}? Keep it short.", "What does {c} have to do with {s}?",
    "I'm writing a blog post on {s}. What should I say about {c}?", "Explain {c} but assume I already know {c2}.",
]
Q_DEEP = [
    "Give a comprehensive explanation of {c}, covering its definition, history, key results, and applications.",
    "Explain {c} in detail.", "Write an in-depth guide to {c}.", "Discuss {a} of {c} thoroughly.",
    "Provide a rigorous treatment of {c} with worked examples.", "Teach me {c} from first principles.",
    "What are all the important things to know about {c}? Be exhaustive.",
    "Explain {a} of {c}, and how it connects to {c2}.", "Write a detailed lecture on {c} for {aud}.",
    "Give me a complete overview of {c} in {s}: intuition, formal statement, examples, and pitfalls.",
    "Explain {c} as you would in a graduate seminar, including {a}.", "Describe {a} of {c} in depth.",
    "I want to master {c}. Explain everything, starting with {a}.", "Explain {c} thoroughly, with derivations where relevant.",
    "Cover {c} in depth: what it is, why it works, and where it fails.",
]
Q_DEEP_ZH = [
    "请详细讲解{c}，包括定义、历史、核心结论和实际应用。", "请全面介绍{d}中的{c}。", "请从{a}的角度深入分析{c}。",
    "请系统地讲解{c}，并给出具体例子。", "请详细解释{c}的{a}。", "请为{aud}写一篇关于{c}的详细教程。",
    "{c}和{c2}有什么区别和联系？请详细说明。", "请深入浅出地解释{s}中的{c}。", "关于{c}，请把所有重要的知识点都讲清楚。",
    "请以教科书的方式讲解{c}，包括推导和例题。",
]

CASUAL_OPENERS = ["", "", "", "", "hey ", "Hi! ", "quick question: ", "ok so ", "Hello, ", "Hey there. ", "Question: ",
                  "sorry if this is basic but ", "Random question, ", "help: "]
CASUAL_CLOSERS = ["", "", "", "", "", " thanks!", " Thanks in advance.", " thx", " Keep it brief please.",
                  " (for a class)", " Please be concise.", " I'm a beginner.", " 🙏"]

FOLLOWUPS = [
    "thanks! can you make it shorter?", "What about {c2}?", "can you give an example?", "Can you explain that step by step?",
    "in simpler terms please", "ok and how does that compare to {c2}?", "Could you translate that into {lang}?",
    "That makes sense. What's a common mistake here?", "Why is that?", "Can you put that in a table?", "wait, I don't get the second part",
    "Great, thanks!", "Can you give me a source for that?", "How would I explain this to my team?", "hmm are you sure about that?",
    "Can you rewrite it as bullet points?", "and what if {cond}?", "Show me a quick example in Python.", "Make it more formal.",
    "ok, next question: {q}", "perfect. one more thing: {q}",
]
FOLLOWUPS_ZH = ["谢谢！能再简短一点吗？", "能举个例子吗？", "那{c2}呢？", "可以一步一步解释吗？", "没太看懂第二点", "好的，明白了。",
                "能用表格总结一下吗？", "为什么会这样？", "换个说法再讲一遍？"]
CONDITIONS = ["the input is empty", "there are two of them", "it happens at night", "the budget is halved", "we scale it to a million users",
              "the data is noisy", "I only have a weekend", "it's negative", "the sample is small", "we are in Europe", "it's a leap year",
              "the price doubles", "there's no internet", "I'm left-handed", "the list is already sorted"]

LANG_FOR_TARGET = ["Spanish", "French", "German", "Chinese", "Japanese", "Korean", "Italian", "Portuguese", "Russian", "Dutch", "Turkish"]

# --------------------------------------------------------------------------------------
# Everyday tasks (chat users)
# --------------------------------------------------------------------------------------

W = {
    "recipient": ["landlord", "manager", "professor", "team", "client", "neighbor", "kid's teacher", "HR department", "insurance company",
                  "old college friend", "coworker", "contractor", "dentist's office", "book club", "new hire"],
    "email_topic": ["a broken heater that still isn't fixed", "taking Friday off", "an extension on my assignment", "the delayed project timeline",
                    "a refund for a cancelled order", "noise from the apartment upstairs", "rescheduling our meeting to next week",
                    "a mistake on my invoice", "the offsite agenda", "a reference letter", "the water leak in the bathroom",
                    "switching to the annual plan", "feedback on the Q3 deck", "my parental leave dates", "the missing package"],
    "tone": ["polite but firm", "friendly", "short", "professional", "warm", "apologetic", "casual", "very formal", "direct"],
    "dish": ["chicken curry", "vegan lasagna", "banana bread", "mapo tofu", "shakshuka", "beef stew", "pad thai", "a quick weeknight pasta",
             "chocolate chip cookies", "miso soup", "chili", "overnight oats", "fried rice", "lentil soup", "tacos al pastor",
             "a gluten-free birthday cake", "dumplings", "ramen from scratch", "roast chicken", "ratatouille"],
    "constraint": ["takes under 30 minutes", "uses only one pot", "is kid-friendly", "has no dairy", "is high in protein", "I can meal prep",
                   "uses what's left in my fridge: eggs, spinach, feta", "doesn't need an oven", "serves 8", "is low in sugar"],
    "city": ["Tokyo", "Lisbon", "Mexico City", "Rome", "Seoul", "Istanbul", "Barcelona", "Kyoto", "Vancouver", "Marrakech", "Prague",
             "Bangkok", "Chicago", "Cape Town", "Hanoi", "Buenos Aires", "Reykjavik", "Singapore", "Edinburgh", "Chengdu"],
    "who": ["a couple", "a family with two kids", "a solo traveler", "two friends on a budget", "my parents in their 70s", "a work trip with one free day"],
    "interest": ["food and markets", "museums", "hiking", "nightlife", "architecture", "history", "photography", "beaches", "coffee", "live music",
                 "board games", "anime", "gardening", "vintage shopping", "climbing", "baking"],
    "thing": ["bakery", "podcast", "golden retriever", "startup that sells refurbished laptops", "fantasy football team", "cat", "band",
              "newsletter about personal finance", "Etsy shop", "D&D character", "hiking club", "coffee cart"],
    "occasion": ["birthday", "retirement", "wedding", "graduation", "thank-you", "farewell", "get-well-soon", "anniversary", "condolence"],
    "relation": ["mom", "dad", "sister", "brother", "best friend", "boss", "coworker", "grandma", "wife", "husband", "partner", "mentor", "son", "daughter"],
    "style": ["formally", "concisely", "persuasively", "in plain English", "in a friendlier tone", "for a LinkedIn post", "for a 10-year-old"],
    "life_task": ["ask my boss for a raise", "get better sleep", "stop procrastinating", "prepare for a job interview", "negotiate rent",
                  "start running again after an injury", "make friends in a new city", "deal with a difficult coworker", "save for a house",
                  "learn to cook", "study for the GRE", "keep houseplants alive", "get my toddler to eat vegetables", "quit sugar",
                  "organize my garage", "pick a laptop for college", "write a wedding speech", "get over jet lag faster"],
    "job": ["data analyst", "nurse", "marketing coordinator", "software engineer", "teacher", "project manager", "barista", "UX designer",
            "accountant", "warehouse supervisor", "research assistant", "sales representative"],
    "company_type": ["fintech startup", "hospital", "non-profit", "game studio", "logistics company", "university lab", "local bakery",
                     "consulting firm", "school district"],
    "goal": ["losing weight", "building muscle", "running a 10k", "improving flexibility", "getting back in shape after a baby", "a ski trip"],
    "poem_topic": ["autumn rain", "my cat", "Monday mornings", "the ocean", "coffee", "moving to a new city", "a lost umbrella", "the moon",
                   "my grandmother's kitchen", "deadlines"],
    "poet": ["Emily Dickinson", "Robert Frost", "Li Bai", "Pablo Neruda", "Dr. Seuss", "Mary Oliver", "a haiku master", "Shakespeare"],
    "announcement": ["my new job", "our product launch", "a promotion", "finishing my PhD", "our team's hackathon win", "a career break"],
    "code_task": ["reverse a string", "read a CSV file", "sort a dictionary by value", "make an HTTP request", "parse JSON",
                  "remove duplicates from a list", "format a date", "read environment variables", "write a unit test",
                  "debounce a function", "connect to Postgres", "center a div", "rename files in bulk", "handle timeouts",
                  "merge two dicts", "run things in parallel", "flatten a nested list", "convert a timestamp to local time"],
    "lang": ["Python", "JavaScript", "TypeScript", "Go", "Rust", "Java", "C#", "bash", "SQL", "Kotlin", "Swift", "PHP", "Ruby", "C++"],
    "product": ["AirPods Pro", "a Kindle Paperwhite", "a Dyson vacuum", "an iPad Air", "a Garmin watch", "a standing desk", "a Roomba",
                "a Sony A7 IV", "a MacBook Air", "a ThinkPad", "an Instant Pot", "a Nintendo Switch", "a Pixel phone", "an e-bike"],
}

CASUAL_TASKS = [
    "Write an email to my {recipient} about {email_topic}. Keep it {tone}.",
    "Can you draft a {tone} message to my {recipient} about {email_topic}?",
    "Give me a recipe for {dish} that {constraint}.", "what can I make for dinner that {constraint}? thinking {dish} maybe",
    "Plan a {n}-day trip to {city} for {who}. We like {interest}.", "Things to do in {city} if you're into {interest}?",
    "Suggest {n} names for my {thing}.", "Help me write a {occasion} message for my {relation}.",
    "Write a short poem about {poem_topic} in the style of {poet}.", "How do I {life_task}?", "Any tips to {life_task}?",
    "Should I buy {product} or {product2}?", "Write a cover letter for a {job} position at a {company_type}.",
    "Make me a {n}-week workout plan for {goal}.", "Gift ideas for my {relation} who likes {interest}? Budget around ${price}.",
    "Write a LinkedIn post announcing {announcement}.", "How do I {code_task} in {lang}?", "{lang}: how to {code_task}",
    "Rewrite this {style}: {sentence}", "fix the grammar: {bad_sentence}", "Summarize this for me:\n\n{paragraph}",
    "Is it normal that {worry}?", "Help me reply to this text from my {relation}: \"{sentence}\"",
    "Give me {n} interview questions for a {job} role and what a good answer looks like.",
    "What's a good name for a {interest} club?", "Explain the rules of {game} quickly.", "Make a packing list for {city} in December.",
    "what should I cook tonight, I have {ingredients}", "Translate to {tlang}: {sentence}",
]
W["game"] = ["cricket", "mahjong", "bridge", "pickleball", "American football", "rugby", "Catan", "poker", "curling", "go"]
W["worry"] = ["my sourdough starter smells like acetone", "my laptop fan is loud all the time", "my 2-year-old doesn't talk much yet",
              "my car makes a clicking noise when I turn", "my tomato leaves are turning yellow", "I feel tired after lunch every day",
              "my cat sleeps 18 hours a day", "my phone battery drains overnight", "my knees hurt after running", "my credit score dropped 30 points"]
W["ingredients"] = ["chicken thighs, rice and some sad carrots", "eggs, potatoes, onions", "tofu, broccoli, soy sauce", "pasta and a can of tomatoes",
                    "ground beef, tortillas, cheese", "salmon and asparagus", "chickpeas, spinach, coconut milk"]

CASUAL_ZH = ["帮我写一封给{who_zh}的邮件，内容是{topic_zh}，语气{tone_zh}一点。", "推荐几个{city_zh}好玩的地方，我们喜欢{like_zh}。",
             "{dish_zh}怎么做比较好吃？", "帮我想{n}个{thing_zh}的名字。", "怎么才能{goal_zh}？", "我应该先学{skill_zh}还是{skill2_zh}？",
             "帮我把这句话翻译成英文：{zh_sentence}", "帮我写一段{occasion_zh}祝福语，给我{rel_zh}。", "用{lang}怎么{code_zh}？",
             "周末去{city_zh}玩两天，帮我安排一下行程。", "{zh_sentence}这句话有语病吗？帮我改一下。"]
WZ = {
    "who_zh": ["房东", "领导", "导师", "客户", "同事", "人事部", "物业"],
    "topic_zh": ["暖气坏了一直没修", "下周五请假", "项目延期", "申请退款", "报销流程", "会议改期", "合同续签"],
    "tone_zh": ["客气", "正式", "委婉", "坚定", "轻松"],
    "city_zh": ["成都", "杭州", "西安", "厦门", "大理", "东京", "首尔", "新加坡", "重庆", "青岛", "苏州"],
    "like_zh": ["美食", "博物馆", "爬山", "拍照", "逛街", "古建筑", "咖啡馆"],
    "dish_zh": ["红烧肉", "麻婆豆腐", "西红柿炒鸡蛋", "宫保鸡丁", "酸菜鱼", "糖醋排骨", "葱油拌面", "可乐鸡翅"],
    "thing_zh": ["咖啡店", "公众号", "猫", "工作室", "播客", "读书会"],
    "goal_zh": ["早睡早起", "提高英语口语", "减肥", "克服拖延症", "准备考研", "存下第一笔钱", "学会游泳"],
    "skill_zh": ["Python", "Excel", "数据分析", "前端开发", "日语", "摄影", "机器学习"],
    "occasion_zh": ["生日", "新年", "升职", "毕业", "结婚", "退休"],
    "rel_zh": ["妈妈", "爸爸", "老师", "好朋友", "同事", "领导", "奶奶"],
    "code_zh": ["读取CSV文件", "发HTTP请求", "解析JSON", "给列表去重", "格式化日期", "多线程下载文件"],
}
ZH_SENTENCES = [
    "我们下周一上午十点在三楼会议室开会，请大家提前准备好材料。", "这家餐厅的菜味道不错，但是服务有点慢。",
    "由于天气原因，原定于周六的户外活动改到下周举行。", "请在本月底之前提交报销单据，逾期将不予受理。",
    "他虽然工作很忙，但每天晚上都会抽时间陪孩子读书。", "新版本修复了登录失败的问题，并优化了首页的加载速度。",
    "如果您对订单有任何疑问，请随时联系我们的客服。", "这座城市的地铁四通八达，出行非常方便。",
    "我昨天在网上买了一件外套，今天就到了。", "为了保护环境，我们应该尽量减少使用一次性塑料制品。",
    "会议纪要已经发到大家的邮箱，请查收。", "这本书讲述了一个普通人在大时代中的奋斗故事。",
]

PARAGRAPH_BITS = [
    "The meeting ran long because nobody had read the proposal beforehand.", "Sales in the northern region grew by {pct}% compared to last quarter.",
    "Several customers reported that the checkout page freezes on older phones.", "The city council voted to extend the bike lane network by {n} kilometers.",
    "Researchers found that participants who slept less than six hours performed worse on memory tasks.",
    "Our team will migrate the billing service to the new cluster next month.", "The museum reopens on Saturday after a two-year renovation.",
    "Prices for fresh produce rose sharply after the early frost.", "The new policy requires managers to approve travel expenses over ${price}.",
    "Volunteers planted more than {n}00 trees along the river last weekend.", "The software update introduces a dark mode and fixes several crashes.",
    "Attendance at the conference was lower than expected, partly due to the train strike.", "The school will start offering free breakfast to all students.",
    "Engineers traced the outage to a misconfigured load balancer.", "The novel follows three generations of a family running a small hotel.",
    "Analysts expect interest rates to stay flat through the spring.", "The hospital added {n} beds to its emergency department.",
    "Local farmers are switching to drip irrigation to save water.", "The startup raised ${n} million to expand into Europe.",
    "A survey of {n}00 employees found that most prefer a hybrid schedule.",
]
SENTENCES = [
    "I think we should move the deadline to next Friday.", "can u send me the report when its ready", "The package arrived damaged and two items are missing.",
    "We're excited to announce that our new app is now available.", "i dont think this plan is gonna work tbh", "Thanks for your patience while we look into this.",
    "Our quarterly revenue exceeded expectations despite supply issues.", "Let me know if you have any questions about the contract.",
    "The train was delayed by an hour, so I missed the first talk.", "Please remember to water the plants while I'm away.",
    "We regret to inform you that the event has been cancelled.", "the wifi keeps disconnecting every like 10 minutes",
    "Could you review the attached draft before tomorrow's meeting?", "This product changed the way I work from home.",
    "Me and him goes to the gym every mornings.", "Their going to the park tomorrow if it dont rain.",
]
BAD_SENTENCES = ["me and my friend goes to the store yesterday", "Their going to be late because there car broke down.",
                 "i has finished the report but it need more review", "Everyone have their own opinion about it.",
                 "The data shows that the results was better then expected.", "He dont know nothing about this project.",
                 "Between you and I, the meeting were pointless.", "its been raining since three days"]


# --------------------------------------------------------------------------------------
# Expository prose (assistant turns, graded answers, passages)
# --------------------------------------------------------------------------------------

_N = ["the inputs", "the overall system", "the underlying structure", "each component", "the boundary conditions", "the observed outcome",
      "the initial state", "the constraints", "the individual parts", "the rate of change", "the long-run behavior", "the key variables",
      "the surrounding context", "small perturbations", "the main mechanism", "the measured quantities", "the edge cases", "the assumptions",
      "the total cost", "the feedback loop", "the scale of the problem", "the time horizon", "the available information", "the error terms",
      "the incentives involved", "the dominant effect", "the baseline", "the sample", "the historical record", "the final result"]
_ADJ = ["precise", "intuitive", "systematic", "quantitative", "surprisingly simple", "powerful", "general", "practical", "elegant",
        "robust", "well-established", "flexible", "useful", "subtle", "rigorous"]
_ADJ2 = ["fixed", "constant", "small", "well-behaved", "independent", "stable", "bounded", "linear", "observable", "unchanged"]
_SCEN = ["a small shop deciding how much stock to order", "a ball rolling down a ramp", "a city planning a new bus line", "a student preparing for two exams",
         "a hospital scheduling night shifts", "a farmer choosing which crop to plant", "two companies competing on price", "a server handling a traffic spike",
         "a patient whose symptoms change over a week", "a chef scaling a recipe for a wedding", "a team splitting a fixed budget", "a river after heavy rain",
         "a robot navigating a warehouse", "a family comparing two mortgages", "a classroom of thirty students taking a test"]

EXPO = [
    "{Cc} is one of the central ideas in {s}, and it usually appears right next to {c2}.",
    "The short version: {c} describes how {n1} depends on {n2}.",
    "Historically, {c} grew out of earlier work on {c2} and was refined over several decades.",
    "A useful way to think about it is as a {adj} relationship between {n1} and {n2}.",
    "In practice, people use {c} to reason about {n1} without tracking every detail of {n2}.",
    "A common misconception is that {c} only applies to {n1}; in fact it matters just as much for {n2}.",
    "For example, imagine {scen}.", "Consider {scen}: here {c} tells you what happens to {n1}.",
    "The key assumption is that {n1} stays {adj2} while {n2} changes.",
    "If that assumption fails, you usually need {c2} or {c3} instead.",
    "Most textbooks introduce {c} right after {c2}, because both rely on {n3}.",
    "This is why {c} matters so much in {d}.", "Note that {c} and {c2} are related but not identical.",
    "In summary, {c} gives you a {adj} way to connect {n1} with {n2}.",
    "The first step is to identify {n1}; the second is to check how it interacts with {n2}.",
    "What makes {c} {adj} is that it reduces a messy question about {n1} to a cleaner one about {n2}.",
    "You will often see {c} stated informally, but the precise version depends on {n3}.",
    "Experts tend to check {n3} first, because that is where most errors come from.",
    "There are two standard approaches: one starts from {c2}, the other from {c3}.",
    "The trade-off is between accuracy and simplicity: a richer model of {n1} costs you clarity about {n2}.",
    "When {n1} is large, the effect of {n2} becomes negligible, which is the regime most people care about.",
    "It is worth remembering that {c} is a model, not a law of nature, and models have limits.",
    "Beginners often confuse {n1} with {n2}; keeping them separate makes {c} much easier.",
    "One way to check your understanding is to predict what happens to {n1} when {n2} doubles.",
    "In {d}, this idea shows up in {c2}, in {c3}, and in many everyday problems.",
    "The intuition is simple even if the formal treatment is not.",
    "Put differently, {c} is about how {n1} and {n2} constrain each other.",
    "A good rule of thumb: if {n1} barely changes, you can ignore most of the subtleties.",
    "Later developments, especially {c2}, extended the idea well beyond its original setting.",
    "The main limitation is that {c} says little about {n3}.",
    "If you remember one thing, remember that {n1} drives {n2}, not the other way around.",
]
EXPO_LEAD = ["Sure! ", "Great question. ", "", "", "", "Absolutely. ", "Good question! ", "Here's a clear explanation. ", "Let's break it down. ",
             "Short answer first, then details. ", "Of course. "]
EXPO_ZH = [
    "{c}是{s}中的一个核心概念，通常和{c2}一起学习。", "简单来说，{c}描述的是各个因素之间如何相互影响。", "从历史上看，{c}是在研究{c2}的过程中逐渐发展起来的。",
    "举个例子，我们可以想象一个具体的场景。", "很多人误以为{c}只适用于特殊情况，其实它的适用范围很广。", "理解{c}的关键在于抓住它的基本假设。",
    "如果这些假设不成立，就需要借助{c2}或{c3}来分析。", "在实际应用中，{c}可以帮助我们快速判断问题的方向。", "总结一下，{c}为我们提供了一种系统的思考方式。",
    "第一步是明确问题的条件，第二步是分析各个变量之间的关系。", "需要注意的是，{c}和{c2}虽然相关，但并不相同。", "这也是为什么{c}在{d}中如此重要。",
    "初学者常常把两个概念混淆，区分清楚之后就容易多了。", "从直观上理解并不难，难的是严格的推导过程。",
]


def _cap(s: str) -> str:
    return s[:1].upper() + s[1:] if s else s


def expo_text(rng: random.Random, concept: Concept, words: int, lang: str = "en") -> str:
    """An assistant-style explanation of about ``words`` words (characters/2 for Chinese)."""
    sib = concept.siblings or [concept]
    c2 = rng.choice(sib)
    c3 = rng.choice(sib)
    if lang == "zh":
        vals = {"c": concept.zh, "c2": c2.zh, "c3": c3.zh, "s": concept.sub_zh, "d": concept.domain_zh}
        out: list[str] = []
        size = 0
        while size < words * 2:
            sent = rng.choice(EXPO_ZH).format(**vals)
            out.append(sent)
            size += len(sent)
        return "".join(out)
    parts: list[str] = [rng.choice(EXPO_LEAD)]
    count = 0
    para = 0
    style = rng.random()
    step = 1
    while count < words:
        vals = {
            "c": concept.en, "Cc": _cap(concept.en), "c2": c2.en, "c3": c3.en, "s": concept.sub, "d": concept.domain,
            "n1": rng.choice(_N), "n2": rng.choice(_N), "n3": rng.choice(_N), "adj": rng.choice(_ADJ), "adj2": rng.choice(_ADJ2),
            "scen": rng.choice(_SCEN),
        }
        sent = rng.choice(EXPO).format(**vals)
        if style < 0.35 and para >= 2 and rng.random() < 0.5:
            sent = f"{step}. **{_cap(rng.choice(_N)[4:])}**: {sent}"
            step += 1
            parts.append("\n" + sent)
        elif style < 0.6 and rng.random() < 0.25:
            parts.append(f"\n- {sent}")
        elif para and rng.random() < 0.18:
            parts.append("\n\n" + sent)
        else:
            parts.append((" " if para else "") + sent)
        para += 1
        count += sent.count(" ") + 1
        if rng.random() < 0.04:
            c2 = rng.choice(sib)
    return "".join(parts).strip()


# --------------------------------------------------------------------------------------
# Reviews, tickets, emails, headlines (classification items)
# --------------------------------------------------------------------------------------

R = {
    "product": ["headphones", "blender", "running shoes", "laptop stand", "coffee maker", "backpack", "phone case", "robot vacuum", "desk lamp",
                "air fryer", "yoga mat", "mechanical keyboard", "water bottle", "electric toothbrush", "office chair", "rain jacket", "tent",
                "smartwatch", "baby monitor", "cast iron pan", "webcam", "mattress", "hair dryer", "bike lock", "e-reader", "space heater",
                "gaming mouse", "suitcase", "wireless charger", "kettle"],
    "aspect": ["battery life", "sound quality", "build quality", "delivery", "customer service", "price", "comfort", "size", "noise level",
               "setup", "instructions", "packaging", "durability", "app", "color", "weight", "warranty process", "fit", "smell", "cleaning"],
    "pos": ["is fantastic", "exceeded my expectations", "is better than I hoped", "works perfectly", "is really solid", "is great for the price",
            "feels premium", "has been flawless so far", "is surprisingly good", "is exactly as described"],
    "neg": ["is terrible", "stopped working after a week", "is a joke", "was a huge letdown", "is way worse than advertised", "feels cheap",
            "broke on day two", "is honestly unacceptable", "keeps failing", "is not worth it"],
    "mid": ["is okay", "is fine I guess", "is average", "does the job", "is decent but nothing special", "could be better"],
    "context": ["I bought this for my daughter.", "Got it on sale.", "After two weeks of daily use:", "Second one I've owned.", "Bought as a gift.",
                "Using it in a small apartment.", "I travel a lot for work.", "Replaced my old one with this.", "", "", "", ""],
    "close_pos": ["Would buy again.", "Highly recommend!", "Five stars.", "Love it.", "No complaints.", "Worth every penny."],
    "close_neg": ["Returning it.", "Avoid.", "Save your money.", "Never again.", "One star is generous.", "Very disappointed."],
    "close_mid": ["It's fine.", "Three stars.", "Might keep it.", "Not sure yet.", "Meh.", ""],
}


def review_text(rng: random.Random) -> tuple[str, str]:
    mood = rng.choice(("positive", "positive", "negative", "negative", "neutral"))
    p = rng.choice(R["product"])
    parts = [rng.choice(R["context"])]
    key = {"positive": "pos", "negative": "neg", "neutral": "mid"}[mood]
    for i in range(rng.randint(1, 3)):
        a = rng.choice(R["aspect"])
        k = key if rng.random() < 0.8 else rng.choice(("pos", "neg", "mid"))
        opener = rng.choice(("The", "The", "Honestly the", "Overall the", "But the", "Also the")) if i else rng.choice(("The", "This", "My new"))
        noun = a if i else f"{p}"
        if i == 0 and rng.random() < 0.5:
            parts.append(f"{opener} {p}'s {a} {rng.choice(R[k])}.")
        else:
            parts.append(f"{opener} {noun} {rng.choice(R[k])}.")
    parts.append(rng.choice(R["close_" + key]))
    text = " ".join(x for x in parts if x)
    if rng.random() < 0.15:
        text = text.lower()
    if rng.random() < 0.1:
        text = text.replace(".", "!!", 1)
    return text, mood


T = {
    "issue": ["I can't log in to my account", "I was charged twice for my subscription", "the app crashes when I open the camera",
              "my order hasn't shipped yet", "I want a refund", "the export to PDF is broken", "I never received the verification email",
              "the invoice shows the wrong VAT number", "I'd like to add a feature request", "my password reset link expired",
              "the dashboard is very slow since yesterday", "I need to change my shipping address", "two-factor codes are not arriving",
              "the integration with Slack stopped posting", "I want to cancel my plan", "the mobile app logs me out randomly",
              "my data import failed halfway", "the discount code isn't applied at checkout", "I can't upload files larger than 10MB",
              "a team member can't see the shared folder"],
    "detail": ["Order #{n6}.", "I'm on Android {a}.", "Using Chrome on a Mac.", "This started after the last update.", "It's urgent, we have a demo tomorrow.",
               "I already tried clearing the cache.", "Account email is on file.", "Happened three times today.", "Screenshot attached.",
               "We're on the Business plan.", "This is the second time I'm writing about this.", "Error code E{n3}.", "", ""],
    "open": ["Hi,", "Hello,", "Hi team,", "Hey,", "Good morning,", "To whom it may concern,", "", ""],
    "close": ["Thanks", "Thanks in advance", "Regards", "Please help", "Cheers", "", "Best,"],
}
TICKET_LABELS = {"log in": "account_access", "charged": "billing", "crashes": "bug", "shipped": "shipping", "refund": "billing", "PDF": "bug",
                 "verification": "account_access", "invoice": "billing", "feature": "feature_request", "password": "account_access",
                 "slow": "bug", "address": "shipping", "two-factor": "account_access", "Slack": "integrations", "cancel": "cancellation",
                 "logs me out": "bug", "import": "bug", "discount": "billing", "upload": "bug", "folder": "permissions"}


def ticket_text(rng: random.Random) -> str:
    issue = rng.choice(T["issue"])
    d = " ".join(rng.choice(T["detail"]).format(n6=rng.randint(100000, 999999), a=rng.randint(9, 15), n3=rng.randint(100, 999))
                 for _ in range(rng.randint(1, 3))).strip()
    return " ".join(x for x in (rng.choice(T["open"]), _cap(issue) + rng.choice((".", ".", "!", " ...")), d, rng.choice(T["close"])) if x)


SPAM = ["Congratulations! You've been selected for a {price} gift card. Click here to claim before midnight.",
        "URGENT: your account will be suspended unless you verify your details at the link below.",
        "Make ${n},000 a week from home with this one weird trick.", "Final notice: your package is waiting, pay the ${n}.99 customs fee now.",
        "Hot singles in your area want to meet you.", "You have (1) unclaimed crypto reward. Withdraw now."]
HAM = ["Hi {name}, are we still on for lunch on {day}?", "Attached is the revised budget for the {proj} project. Let me know what you think.",
       "Reminder: the {proj} retro is moved to {day} at {hour}.", "Your order from {shop} has shipped and should arrive {day}.",
       "Can you send me the slides from yesterday's {proj} review?", "Thanks for the intro, {name}! Happy to chat next week.",
       "The kids' soccer practice is cancelled on {day} because of the rain."]
NAMES = ["Alex", "Priya", "Wei", "Maria", "Jonas", "Fatima", "Sam", "Yuki", "Olga", "Diego", "Chloe", "Omar", "Lena", "Kenji", "Aisha", "Tom"]
DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "tomorrow", "next week", "Saturday"]
PROJECTS = ["Atlas", "Phoenix", "onboarding", "Q4 planning", "website redesign", "data migration", "Nimbus", "mobile app"]

NEWS = ["{org} shares {move} after quarterly earnings beat estimates", "{country} announces new {policy} policy ahead of elections",
        "Scientists discover {thing} in {place}", "{team} win {event} after dramatic final minutes", "Heavy rain causes flooding in {place}",
        "{org} unveils new {gadget} with longer battery life", "Central bank {move2} interest rates by {pct} basis points",
        "Study links {habit} to lower risk of {disease}", "{country} and {country2} sign trade agreement on {policy}",
        "Film '{title}' tops box office for {n} weeks", "Wildfire forces evacuation of {n},000 residents near {place}"]
NW = {"org": ["Apple", "Tencent", "Siemens", "Toyota", "Shopify", "Nvidia", "Airbus", "Samsung", "Unilever", "Spotify"],
      "move": ["jump", "slide", "rally", "tumble", "edge higher"], "move2": ["raises", "cuts", "holds"],
      "country": ["Japan", "Brazil", "Kenya", "Germany", "Canada", "India", "Mexico", "Australia", "Vietnam", "Poland"],
      "country2": ["Chile", "Indonesia", "France", "South Korea", "Egypt", "Norway"],
      "policy": ["energy", "housing", "immigration", "AI", "digital services", "farm subsidy", "climate"],
      "thing": ["a new species of frog", "ancient pottery", "a hidden lake", "microplastics", "a giant exoplanet", "a 3,000-year-old shipwreck"],
      "place": ["the Andes", "northern Italy", "coastal Queensland", "the Gobi desert", "Lake Victoria", "southern Spain", "Hokkaido"],
      "team": ["Real Madrid", "the Lakers", "Mumbai Indians", "the All Blacks", "Bayern Munich", "the Yankees"],
      "event": ["the cup final", "the championship", "the derby", "game seven"], "gadget": ["smartphone", "laptop", "headset", "electric car"],
      "habit": ["daily walking", "eating nuts", "afternoon naps", "cold showers", "gardening"], "disease": ["heart disease", "dementia", "diabetes"],
      "title": ["Northern Lights", "The Last Orchard", "Glass City", "Paper Moon", "Iron Tide"]}


def fill(rng: random.Random, template: str, table: dict[str, list[str]]) -> str:
    """str.format with random choices from ``table`` for any {slot} the template uses."""
    out = []
    pos = 0
    for m in _SLOT.finditer(template):
        out.append(template[pos:m.start()])
        key = m.group(1)
        if key in table:
            out.append(rng.choice(table[key]))
        elif key == "n":
            out.append(str(rng.randint(2, 7)))
        elif key == "pct":
            out.append(str(rng.randint(2, 40)))
        elif key == "price":
            out.append(str(rng.choice((25, 40, 50, 75, 100, 150, 200, 300))))
        else:
            out.append(m.group(0))
        pos = m.end()
    out.append(template[pos:])
    return "".join(out)


_SLOT = re.compile(r"\{(\w+)\}")
_ALL_SLOTS: dict[str, list[str]] = {**W, **WZ, **NW, "name": NAMES, "day": DAYS, "proj": PROJECTS,
                                    "shop": ["Zalando", "IKEA", "Amazon", "Etsy", "Uniqlo", "Decathlon"],
                                    "hour": ["9:30", "10:00", "2pm", "3:15", "4:30"], "sentence": SENTENCES,
                                    "bad_sentence": BAD_SENTENCES, "zh_sentence": ZH_SENTENCES,
                                    "tlang": LANG_FOR_TARGET, "cond": CONDITIONS, "product2": W["product"]}


def paragraph(rng: random.Random, k: int) -> str:
    return " ".join(fill(rng, rng.choice(PARAGRAPH_BITS), _ALL_SLOTS) for _ in range(k))


def casual_task(rng: random.Random) -> str:
    t = rng.choice(CASUAL_TASKS)
    if "{paragraph}" in t:
        t = t.replace("{paragraph}", paragraph(rng, rng.randint(3, 7)))
    return fill(rng, t, _ALL_SLOTS)


def casual_task_zh(rng: random.Random) -> str:
    return fill(rng, rng.choice(CASUAL_ZH), _ALL_SLOTS)


# Source texts for translation in other languages (slot grammars).
FOREIGN = {
    "es": (["El equipo de {x} presentará los resultados el {d}.", "Necesitamos revisar el contrato antes de firmarlo.",
            "La entrega se retrasó por problemas con el proveedor.", "Gracias por su paciencia; estamos resolviendo el problema de {x}.",
            "El precio incluye envío gratuito a toda la península.", "Mañana habrá una reunión para hablar de {x}."],
           {"x": ["ventas", "marketing", "logística", "facturación", "soporte"], "d": ["lunes", "martes", "jueves", "viernes"]}),
    "fr": (["L'équipe {x} présentera les résultats {d}.", "Merci de confirmer votre présence avant la fin de la semaine.",
            "Le colis a été livré à la mauvaise adresse.", "Nous avons mis à jour nos conditions générales de vente.",
            "La réunion sur le projet {x} est reportée à {d}.", "Ce produit est garanti deux ans pièces et main-d'œuvre."],
           {"x": ["commerciale", "marketing", "logistique", "juridique"], "d": ["lundi", "mardi prochain", "jeudi", "vendredi matin"]}),
    "de": (["Das Team {x} stellt die Ergebnisse am {d} vor.", "Bitte senden Sie uns die Rechnung bis Ende des Monats.",
            "Die Lieferung verzögert sich leider um einige Tage.", "Vielen Dank für Ihre Bestellung bei uns.",
            "Das Meeting zum Projekt {x} wird auf {d} verschoben.", "Die Software wurde auf die neueste Version aktualisiert."],
           {"x": ["Vertrieb", "Marketing", "Logistik", "Einkauf"], "d": ["Montag", "Dienstag", "Donnerstag", "Freitag"]}),
    "ja": (["{x}の資料を{d}までに送ってください。", "ご注文いただきありがとうございます。", "配送が数日遅れる見込みです。",
            "来週の会議は{d}に変更になりました。", "この製品は二年間の保証が付いています。", "お問い合わせの件について確認いたします。"],
           {"x": ["営業", "マーケティング", "経理", "開発"], "d": ["月曜日", "水曜日", "金曜日", "明日"]}),
    "ru": (["Отдел {x} представит результаты в {d}.", "Пожалуйста, подтвердите участие до конца недели.",
            "Доставка задерживается на несколько дней.", "Спасибо за ваш заказ!", "Совещание по проекту перенесено на {d}.",
            "Мы обновили условия использования сервиса."],
           {"x": ["продаж", "маркетинга", "логистики", "закупок"], "d": ["понедельник", "среду", "пятницу"]}),
    "zh": (ZH_SENTENCES, {}),
}


def foreign_text(rng: random.Random, lang: str, k: int) -> str:
    templates, table = FOREIGN[lang]
    sep = "" if lang in ("zh", "ja") else " "
    return sep.join(fill(rng, rng.choice(templates), table) for _ in range(k))
