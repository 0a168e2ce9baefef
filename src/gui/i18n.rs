//! UI text in English and Simplified Chinese. Every key carries both spellings in one table row,
//! so a key cannot exist in one language only; the default language follows the OS locale.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Lang {
    En,
    Zh,
}

impl Lang {
    pub const ALL: [Lang; 2] = [Lang::En, Lang::Zh];

    /// The language's own name, as shown in the View menu.
    pub fn native_name(self) -> &'static str {
        match self {
            Lang::En => "English",
            Lang::Zh => "简体中文",
        }
    }

    /// Chinese when the locale variables (LC_ALL, LC_MESSAGES, LANG, in POSIX priority order)
    /// name a Chinese locale, English otherwise.
    pub fn from_locale_vars(get: impl Fn(&str) -> Option<String>) -> Lang {
        let locale = ["LC_ALL", "LC_MESSAGES", "LANG"].iter().find_map(|name| get(name).filter(|v| !v.is_empty()));
        match locale {
            Some(value) if value.to_ascii_lowercase().starts_with("zh") => Lang::Zh,
            _ => Lang::En,
        }
    }

    pub fn from_os_locale() -> Lang {
        Self::from_locale_vars(|name| std::env::var(name).ok())
    }

    pub fn text(self, key: Key) -> &'static str {
        let (en, zh) = key.spellings();
        match self {
            Lang::En => en,
            Lang::Zh => zh,
        }
    }
}

macro_rules! keys {
    ($($name:ident => ($en:expr, $zh:expr),)*) => {
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum Key { $($name,)* }

        impl Key {
            pub const ALL: &'static [Key] = &[$(Key::$name,)*];

            /// (English, Simplified Chinese).
            pub fn spellings(self) -> (&'static str, &'static str) {
                match self { $(Key::$name => ($en, $zh),)* }
            }
        }
    };
}

keys! {
    MenuFile => ("File", "文件"),
    MenuOpen => ("Open…", "打开…"),
    MenuRecent => ("Recent", "最近打开"),
    MenuOpenPath => ("Open path", "打开路径"),
    PathHint => ("or type a recording's path", "或输入录音文件路径"),
    MenuNoRecent => ("(none)", "（无）"),
    MenuExportCsv => ("Export CSV tables…", "导出 CSV 表格…"),
    MenuExportPng => ("Export PNG figure…", "导出 PNG 图…"),
    MenuExportSvg => ("Export SVG figure…", "导出 SVG 图…"),
    MenuExportBeside => ("Export all beside the recording", "全部导出到录音所在文件夹"),
    MenuQuit => ("Quit", "退出"),
    MenuView => ("View", "视图"),
    MenuLanguage => ("Language", "语言"),
    MenuShowDebug => ("Frame-time readout", "帧时间显示"),
    MenuModel => ("Model", "模型"),
    MenuModelDefault => ("Built-in default model", "内置默认模型"),
    MenuModelCentred => ("Built-in model, centred on each call", "内置模型（按每通电话居中）"),
    MenuModelCentredTip => (
        "Scores each caller segment against this call's own average: reads the course of one call better for a voice the model never heard, but NSS and stage means are no longer comparable between calls.",
        "每个来电者片段的得分相对于本通电话自身的平均值：对模型未听过的声音，更能读出一通电话内的情绪走向；但 NSS 和各阶段均值不再能在不同电话之间比较。"
    ),
    CentredInstalling => ("Installing the centred built-in model…", "正在安装居中的内置模型…"),
    CentredInstallFailed => ("Could not install the centred built-in model:", "无法安装居中的内置模型："),
    CentredNoDataDir => ("No user data folder on this system to install the model in.", "此系统没有可安装模型的用户数据文件夹。"),
    MenuModelNone => ("No model bundles found in models/ or the data folder", "在 models/ 或数据文件夹中未找到模型包"),
    MenuSettings => ("Settings", "设置"),
    AssessmentMinutes => ("Assessment stage length (min)", "评估阶段时长（分钟）"),
    AssessmentAppliesNext => ("Applies to the open call at once (stage metrics, exports) and to every later analysis.", "立即用于当前通话（阶段指标、导出），并用于之后的每次分析。"),
    Welcome => ("Open a call recording: File › Open…, drop a file on this window, or run `emotrace CALL.wav`.", "打开通话录音：文件 › 打开…，把文件拖到窗口中，或运行 `emotrace CALL.wav`。"),
    // Start page, first-run hint and Help menu (src/gui/start_page.rs, src/gui/help.rs).
    StartTagline => ("Review the emotional course of a recorded call, segment by segment.", "逐段回顾通话录音中来电者的情绪变化。"),
    StartDemo => ("Try the demo call", "试用演示通话"),
    StartDemoTip => ("A 4-minute telephone call of acted Polish speech (nEMO corpus) whose caller calms down; analysed with the built-in model.", "一通 4 分钟的电话录音（nEMO 语料库中的波兰语表演语音），来电者逐渐平静下来；使用内置模型分析。"),
    StartOpen => ("Open a call…", "打开通话…"),
    StartDropHint => ("or drop a recording (WAV, FLAC, MP3, OGG…) on this window", "或把录音文件（WAV、FLAC、MP3、OGG…）拖到此窗口"),
    StartRecent => ("Recent calls", "最近的通话"),
    StartNoRecent => ("None yet.", "暂无。"),
    StartClearRecent => ("Clear recent calls", "清除最近的通话"),
    StartMeaning => ("p is the model's probability that a caller segment is not negative (0 = negative, 1 = not negative); NSS counts the caller's negative segments (p ≤ 0.5) and ECR is how much the caller's emotion changes from one segment to the next.", "p 是模型判断来电者某一片段“非负面”的概率（0 = 负面，1 = 非负面）；NSS 为来电者负面片段（p ≤ 0.5）的数量，ECR 为来电者情绪在相邻片段之间的变化程度。"),
    StartPrivacy => ("Everything runs on this computer: no audio or result leaves it. emotrace supports review; it does not diagnose.", "所有处理都在本机完成：录音和结果不会离开本机。emotrace 用于辅助回顾，不做诊断。"),
    DemoPreparing => ("Preparing the demo call…", "正在准备演示通话…"),
    DemoUnavailable => ("The demo call could not be written:", "无法写出演示通话："),
    HintTitle => ("First steps", "入门提示"),
    HintCaller => ("The Caller panel (right) says which voice was taken for the caller; pick the other one if it is wrong.", "右侧的“来电者”面板显示哪个声音被判定为来电者；如果判断错误，请选择另一方。"),
    HintPlayback => ("Click a point of the trajectory or a table row to hear that segment; Space plays and pauses, ← → move between segments.", "点击轨迹上的点或表格中的行即可收听该片段；空格键播放/暂停，← → 在片段之间移动。"),
    HintLabel => ("Right-click a row, or press N / P while it plays, to label a segment negative or non-negative; labels are saved beside the recording.", "右键点击表格行，或在播放时按 N / P，把片段标为负面或非负面；标注会保存在录音旁边。"),
    HintDismiss => ("Got it", "知道了"),
    MenuHelp => ("Help", "帮助"),
    MenuGuide => ("User guide", "使用指南"),
    MenuShortcuts => ("Keyboard shortcuts", "键盘快捷键"),
    MenuAbout => ("About emotrace", "关于 emotrace"),
    GuideOpen => ("1. Open a call: File › Open…, drop a recording on the window, or run `emotrace CALL.wav`. Stereo recordings with one party per channel work best; mono calls are split by voice.", "1. 打开通话：文件 › 打开…，把录音拖到窗口中，或运行 `emotrace CALL.wav`。每方各占一个声道的立体声录音效果最好；单声道通话按声音区分双方。"),
    GuideTrajectory => ("2. The trajectory: one point per caller segment, at the model's p (the probability that the segment is not negative). Below 0.5 the segment counts as negative. The shaded stretch is the risk-assessment stage (default the first 30 minutes); the metrics panel gives NSS and ECR for that stage and for the whole call.", "2. 情绪轨迹：每个来电者片段一个点，纵轴是模型给出的 p（该片段非负面的概率）。低于 0.5 即计为负面。阴影部分是风险评估阶段（默认前 30 分钟）；指标面板给出该阶段和整通电话的 NSS 与 ECR。"),
    GuideCaller => ("3. Check the caller: the Caller panel says which voice was taken for the caller and why. Listen to each party's sample and pick the other one if needed; the call is scored again without decoding it again.", "3. 核对来电者：“来电者”面板说明哪个声音被判定为来电者及其依据。可以试听双方的样本，必要时选择另一方；通话会重新评分，无需重新解码。"),
    GuideListen => ("4. Listen: click a point or a table row to play that segment; the waveform shows where you are. Space plays and pauses; ← and → move to the previous or next caller segment.", "4. 收听：点击某个点或表格行即可播放该片段，波形图会显示当前位置。空格键播放/暂停；← 和 → 跳到上一个或下一个来电者片段。"),
    GuideLabel => ("5. Label: right-click a table row, or press N (negative), P (non-negative) or Backspace (clear) while a segment plays. Labels are saved at once beside the recording (<name>.labels.csv) and can fine-tune the model (Model › Fine-tune on labels…).", "5. 标注：右键点击表格行，或在片段播放时按 N（负面）、P（非负面）或 Backspace（清除）。标注会立即保存在录音旁边（<名称>.labels.csv），并可用于微调模型（模型 › 基于标注微调…）。"),
    GuideExport => ("6. Export: File › Export writes the segment and summary tables (CSV), the figure (PNG/SVG) and report.json, the same files as `emotrace analyze`.", "6. 导出：文件 › 导出会写出片段表和汇总表（CSV）、图（PNG/SVG）以及 report.json，与 `emotrace analyze` 的输出相同。"),
    GuideLimits => ("The model was trained on acted emotional speech, not on hotline calls: read the trajectory's shape and listen to the segments that matter. emotrace supports review; it does not diagnose.", "该模型以表演性情绪语音训练，而非真实热线通话：请关注轨迹的整体走势，并收听关键片段。emotrace 用于辅助回顾，不做诊断。"),
    ShortcutPlay => ("Play / pause", "播放 / 暂停"),
    ShortcutNext => ("Play the next caller segment", "播放下一个来电者片段"),
    ShortcutPrevious => ("Play the previous caller segment", "播放上一个来电者片段"),
    ShortcutNegative => ("Label the segment being played negative", "把正在播放的片段标为负面"),
    ShortcutNonNegative => ("Label the segment being played non-negative", "把正在播放的片段标为非负面"),
    ShortcutClear => ("Clear that segment's label", "清除该片段的标注"),
    AboutNotDiagnosis => ("emotrace supports review of recorded calls; it does not diagnose.", "emotrace 用于辅助回顾通话录音，不做诊断。"),
    AboutModel => ("Built-in model:", "内置模型："),
    AboutTrainingData => ("Trained on:", "训练数据："),
    AboutLicences => ("Licences of the built-in model", "内置模型的许可证"),
    AboutOtherLicences => ("emotrace itself: MIT OR Apache-2.0. Speaker encoder: CAM++ by 3D-Speaker (Apache-2.0). Bundled font: Noto Sans CJK SC (SIL OFL 1.1). Demo call: nEMO speech (Christop 2024), CC BY-NC-SA 4.0. Installed from the package, every licence is listed in /usr/share/doc/emotrace/copyright.", "emotrace 本身：MIT 或 Apache-2.0。说话人编码器：3D-Speaker 的 CAM++（Apache-2.0）。内置字体：Noto Sans CJK SC（SIL OFL 1.1）。演示通话：nEMO 语音（Christop 2024），CC BY-NC-SA 4.0。通过软件包安装时，所有许可证列于 /usr/share/doc/emotrace/copyright。"),
    StageDecode => ("Decode", "解码"),
    StageSegment => ("Segment", "分段"),
    StageFeatures => ("Features", "特征"),
    StageModel => ("Model", "模型"),
    Cancel => ("Cancel", "取消"),
    Cancelled => ("Analysis cancelled.", "分析已取消。"),
    Failed => ("Analysis failed:", "分析失败："),
    Finished => ("Analysis finished.", "分析完成。"),
    DemoScoring => ("demo scoring: no model — these scores are made up for testing the window", "演示评分：未使用模型——这些分数仅用于测试窗口"),
    AxisTime => ("Call time (min)", "通话时间（分钟）"),
    AxisP => ("p(non-negative)", "p（非负性）"),
    Negative => ("Negative", "负性"),
    NonNegative => ("Non-negative", "非负性"),
    AssessmentStage => ("Assessment stage", "评估阶段"),
    FullCall => ("Full call", "全部通话"),
    Threshold => ("0.5 line", "0.5 分界线"),
    Playhead => ("Playhead", "播放位置"),
    Channel => ("Channel", "声道"),
    CallerLane => ("caller", "来电者"),
    OtherLane => ("other party", "另一方"),
    OverlapLegend => ("■ overlapping speech", "■ 重叠语音"),
    WaveformPending => ("The waveform appears when decoding ends.", "解码完成后显示波形。"),
    MetricsTitle => ("Stage metrics", "阶段指标"),
    MetricStage => ("Stage", "阶段"),
    MetricSegments => ("Segments", "片段数"),
    MetricSegmentsTip => ("Caller segments scored in this stage.", "本阶段中已评分的来电者语音片段数量。"),
    MetricNss => ("NSS", "NSS"),
    MetricNssTip => ("Negative speech segments: how many caller segments have p(non-negative) ≤ 0.5.", "负性语音片段数：p（非负性）≤ 0.5 的来电者片段数量。"),
    MetricEcrBinary => ("ECR (binary)", "ECR（二值）"),
    MetricEcrBinaryTip => ("Emotion change rate on labels: the share of consecutive segment pairs whose label (p > 0.5 or not) differs. Undefined below two segments.", "基于标签的情绪变化率：相邻片段标签（p 是否 > 0.5）不同的比例。少于两个片段时无定义。"),
    MetricEcrProb => ("ECR (prob.)", "ECR（概率）"),
    MetricEcrProbTip => ("Emotion change rate on probabilities: the mean of |p_i − p_(i−1)| over consecutive segments (paper Eq. 7). Undefined below two segments.", "基于概率的情绪变化率：相邻片段 |p_i − p_(i−1)| 的平均值（论文公式 7）。少于两个片段时无定义。"),
    MetricsNote => ("Descriptive measures of the recording, not a diagnosis.", "这些是对录音的描述性指标，并非诊断。"),
    MetricsPartial => ("(so far)", "（截至目前）"),
    NotDefined => ("n/a", "无"),
    TableTitle => ("Caller segments", "来电者片段"),
    TableIndex => ("#", "#"),
    TableStart => ("Start", "开始"),
    TableDuration => ("Length", "时长"),
    TableP => ("p", "p"),
    TableLabel => ("Label", "标签"),
    TableStage => ("Stage", "阶段"),
    TableAnnotation => ("Annotation", "人工标注"),
    MenuFineTune => ("Fine-tune on labels…", "用标注微调模型…"),
    TrainTitle => ("Fine-tune on labels", "用标注微调模型"),
    TrainIntro => ("Trains a new model from the one in use on annotated segments (labels files saved beside the recordings), on this machine; a fifth of the labelled calls' speakers are held out for validation when there are two or more (otherwise a fifth of each label's segments). When it ends, both models are compared on the held-out segments. The new model appears in the Model menu.", "在本机以当前模型为起点，用人工标注的片段（录音旁的标注文件）训练新模型；标注的说话人有两个或以上时，留出五分之一的说话人做验证（否则按标签各留出五分之一片段）。训练结束后在留出片段上对比两个模型。新模型会出现在“模型”菜单中。"),
    TrainFrom => ("Starting from:", "起点模型："),
    TrainLabelsFiles => ("Labels files", "标注文件"),
    TrainAddHint => ("path of a .labels.csv (or any training manifest)", ".labels.csv（或任一训练清单）的路径"),
    TrainAdd => ("Add", "添加"),
    TrainEpochs => ("Epochs", "轮数"),
    TrainName => ("New model's name", "新模型名称"),
    TrainStart => ("Start training", "开始训练"),
    TrainPreparing => ("Preparing clips", "准备片段"),
    TrainEpoch => ("Epoch", "轮次"),
    TrainValidation => ("validation", "验证"),
    TrainNoLabels => ("Add at least one labels file (label segments in the table first).", "请至少添加一个标注文件（先在片段表中标注）。"),
    TrainMissing => ("No such file:", "文件不存在："),
    TrainBadName => ("The name must be a plain folder name.", "名称必须是普通文件夹名。"),
    TrainExists => ("A model named {} exists already: choose another name.", "已有名为 {} 的模型：请换一个名称。"),
    TrainDone => ("Training finished: model {} is in the Model menu.", "训练完成：模型 {} 已在“模型”菜单中。"),
    TrainStopped => ("Training stopped; starting the same run again resumes from its last epoch.", "训练已停止；再次以同样设置开始会从上一轮继续。"),
    TrainFailed => ("Training failed:", "训练失败："),
    TrainCurveTitle => ("Loss and validation per epoch", "每轮损失与验证"),
    TrainCurveLoss => ("training loss", "训练损失"),
    TrainCurveValLoss => ("validation loss", "验证损失"),
    TrainCurveValF1 => ("validation macro-F1", "验证宏 F1"),
    TrainComparing => ("Scoring the held-out segments with both models…", "正在用两个模型为留出片段打分…"),
    CompareTitle => ("Before and after, on labelled segments held out from this fine-tuning", "微调前后对比（本次微调留出的已标注片段）"),
    CompareHeldOutSpeakers => ("Held out: all segments of speakers {} ({} negative, {} non-negative); the new model never trained on them.", "留出：说话人 {} 的全部片段（负面 {} 个，非负面 {} 个）；新模型未用它们训练。"),
    CompareHeldOutSegments => ("Only one labelled speaker, so no speaker could be held out: a fifth of each label's segments (seeded) was held out instead ({} negative, {} non-negative); the new model never trained on them, but they come from the same speaker.", "只有一个已标注的说话人，无法按说话人留出：改为按标签分层（固定种子）留出五分之一片段（负面 {} 个，非负面 {} 个）；新模型未用它们训练，但它们来自同一说话人。"),
    CompareCaveat => ("The run chose its best epoch and fitted its calibration on these segments, so the new model's figures lean optimistic; with few segments every figure is noisy.", "本次训练用这些片段选择最佳轮次并拟合校准，因此新模型的数字偏乐观；片段少时所有数字波动都大。"),
    CompareFigure => ("Figure", "指标"),
    CompareBefore => ("Before (in use)", "微调前（当前）"),
    CompareAfter => ("After (new)", "微调后（新）"),
    CompareSegments => ("Segments (n)", "片段数 (n)"),
    CompareMacroF1 => ("Macro-F1", "宏 F1"),
    CompareNegativeF1 => ("F1, negative class", "负面类 F1"),
    CompareAccuracy => ("Accuracy", "准确率"),
    CompareKappa => ("Cohen's κ with the annotators", "与标注者的 Cohen κ"),
    CompareAuc => ("ROC AUC", "ROC 曲线下面积 (AUC)"),
    CompareUndefined => ("n/a", "无"),
    CompareFailed => ("The comparison failed:", "对比失败："),
    CompareNone => ("No segments were held out, so there is nothing to compare on.", "没有留出片段，无法对比。"),
    CompareSwitch => ("Switch to the new model", "切换到新模型"),
    CompareSwitched => ("The new model is in use.", "新模型已在使用。"),
    LabelNegative => ("Label negative (N)", "标注为负性 (N)"),
    LabelNonNegative => ("Label non-negative (P)", "标注为非负性 (P)"),
    LabelClear => ("Clear the label (Backspace)", "清除标注 (退格)"),
    LabelCarriedOver => ("Annotation saved for {}–{} in an earlier segmentation of this call; labelling this segment replaces it", "此标注来自本通话先前的分段（{}–{}）；标注本片段将替换它"),
    LabelSaved => ("Segment {} labelled {}; {} labels in {}", "片段 {} 已标注为{}；{} 个标注保存在 {}"),
    LabelNotSaved => ("The label was not saved:", "标注未保存："),
    LabelsUnreadable => ("The call's labels file cannot be read, so labelling is off (the file is left as it is):", "无法读取此通话的标注文件，已关闭标注（文件保持原样）："),
    LabelsOff => ("Labelling is off for this call: its labels file could not be read.", "此通话已关闭标注：无法读取其标注文件。"),
    StageAssessmentShort => ("assessment", "评估"),
    StageInterventionShort => ("intervention", "干预"),
    Play => ("Play", "播放"),
    Pause => ("Pause", "暂停"),
    Speed => ("Speed", "速度"),
    PlaybackKeys => ("Space: play/pause · ←/→: previous/next segment · N/P: label negative/non-negative · Backspace: clear · U: most uncertain unlabelled", "空格：播放/暂停 · ←/→：上一个/下一个片段 · N/P：标注负性/非负性 · 退格：清除标注 · U：最不确定的未标注片段"),
    NoAudioDevice => ("No audio output device: playback is silent, the playhead still moves.", "没有音频输出设备：播放无声，但播放位置仍会移动。"),
    AudioDevice => ("Audio output:", "音频输出："),
    AudioNone => ("Audio output: none (silent playhead)", "音频输出：无（静音播放）"),
    FrameTime => ("Frame time", "帧时间"),
    Median => ("median", "中位数"),
    DialogUnavailable => ("Nothing was chosen. If no dialog appeared, this desktop has no file dialog: drop the file on the window or type its path in the File menu.", "未选择任何内容。如果没有出现对话框，说明此桌面没有文件对话框：请把文件拖到窗口中，或在“文件”菜单中输入路径。"),
    ExportDialogUnavailable => ("No folder was chosen. If no dialog appeared, this desktop has no file dialog: use File › Export all beside the recording.", "未选择文件夹。如果没有出现对话框，说明此桌面没有文件对话框：请使用“文件 › 全部导出到录音所在文件夹”。"),
    Exported => ("Written:", "已写入："),
    ExportFailed => ("Export failed:", "导出失败："),
    NothingToExport => ("Nothing to export yet: wait until the analysis finishes.", "暂无可导出内容：请等待分析完成。"),
    DropHere => ("Drop a recording to open it", "松开以打开录音"),
    Opening => ("Opening", "正在打开"),
    SettingsNotSaved => ("Settings could not be saved:", "无法保存设置："),
    CallerTitle => ("Caller", "来电者"),
    CallerMonoNote => ("One channel: the two speakers were told apart automatically. Confirm who the caller is; only the caller's segments are scored.", "单声道：两位说话人由程序自动区分。请确认谁是来电者；只对来电者的片段评分。"),
    CallerEncoderNote => ("Voices were told apart with the imported speaker encoder.", "已使用导入的说话人编码器区分声音。"),
    CallerBuiltInEncoderNote => ("Voices were told apart with the built-in speaker encoder (CAM++).", "已使用内置说话人编码器（CAM++）区分声音。"),
    CallerEncoderUnusable => ("The imported speaker encoder could not be loaded, so the built-in one told the voices apart (hover for why; import it again below or with emotrace import-speaker-encoder --force).", "导入的说话人编码器无法加载，本次改用内置编码器区分声音（悬停查看原因；可在下方或用 emotrace import-speaker-encoder --force 重新导入）。"),
    CallerNoEncoderNote => ("No speaker encoder was used (speaker encoder set to none): two voices of the same sex on one line are often confused.", "未使用说话人编码器（设置为 none）：同一线路上两位同性别说话人常被混淆。"),
    MenuImportEncoder => ("Import speaker encoder…", "导入说话人编码器…"),
    MenuImportEncoderTip => ("A CAM++ (campplus_*.pt) or GE2E (pretrained.pt) checkpoint; mono calls are then told apart with it instead of the built-in CAM++. It replaces an encoder imported earlier; nothing leaves this machine.", "CAM++（campplus_*.pt）或 GE2E（pretrained.pt）检查点；之后单声道通话用它代替内置的 CAM++ 区分说话人。会替换此前导入的编码器；数据不离开本机。"),
    EncoderPathHint => ("or type the checkpoint's path", "或输入检查点文件路径"),
    EncoderImportPath => ("Import", "导入"),
    EncoderImporting => ("Importing the speaker encoder…", "正在导入说话人编码器…"),
    EncoderImported => ("Speaker encoder installed ({}). Mono calls analysed from now on use it.", "说话人编码器已安装（{}）。此后分析的单声道通话将使用它。"),
    EncoderImportFailed => ("Could not import the speaker encoder:", "无法导入说话人编码器："),
    EncoderDialogUnavailable => ("No file dialog on this desktop: type the checkpoint's path in the Model menu.", "此桌面没有文件对话框：请在“模型”菜单中输入检查点路径。"),
    EncoderNoDataDir => ("No user data folder on this system to install the encoder in.", "此系统没有可安装编码器的用户数据文件夹。"),
    ReanalyseWithEncoder => ("Analyse again with the speaker encoder", "用说话人编码器重新分析"),
    CallerStereoNote => ("One party per channel. Confirm which channel carries the caller; only the caller's segments are scored.", "每个声道一方。请确认来电者在哪个声道；只对来电者的片段评分。"),
    SpeakerA => ("Speaker A", "说话人 A"),
    SpeakerB => ("Speaker B", "说话人 B"),
    LeftChannel => ("Left channel", "左声道"),
    RightChannel => ("Right channel", "右声道"),
    AllSpeechMono => ("All speech (no speaker separation)", "全部语音（不区分说话人）"),
    AllSpeechStereo => ("Both channels", "两个声道"),
    Suggested => ("suggested", "建议"),
    SuggestedTip => ("The party with more speech: callers usually talk more than operators.", "语音更多的一方：来电者通常比接线员说得多。"),
    SuggestionUncertain => ("Both parties speak for about as long ({}): the suggestion is uncertain. Listen to each, then choose the caller.", "双方说话时长相近（{}）：建议不可靠。请分别试听后选择来电者。"),
    ListenSample => ("Listen", "试听"),
    ListenSampleTip => ("Play this party's longest segment.", "播放该方最长的片段。"),
    CallerSegments => ("segments", "个片段"),
    CallerWhenFinished => ("The caller can be changed when the analysis finishes.", "分析完成后可以更改来电者。"),
    Rescoring => ("Scoring again with the chosen caller; the recording is not decoded again.", "正在按所选来电者重新评分；不会重新解码录音。"),
    ModelLoading => ("Loading model", "正在加载模型"),
    ModelRunsOn => ("runs on", "运行于"),
    ModelLoadedIn => ("loaded in", "加载用时"),
    NeedsFineTuning => ("This model has not been fine-tuned: its classification head is new and untrained, so its scores are not meaningful yet. Use it to try the window, not to review calls.", "此模型尚未微调：其分类层是新建的、未经训练，因此分数暂无意义。仅可用于试用窗口，不可用于审阅通话。"),
    PerCallCentred => ("Scores are centred on this call (per-call centring): compare segments within the call; NSS and stage means are not comparable between calls.", "分数已按本通话居中（逐通话居中）：用于比较本通话内的片段；NSS 与阶段均值不宜在通话之间比较。"),
    BaselineCentred => ("Scores are centred on the caller's earlier call {} (caller baseline): they compare this call with that call, and with the caller's other calls centred on it; not with other callers.", "分数以来电者的较早通话 {} 为基线居中：可与该通话以及以其为基线的该来电者其他通话比较；不宜与其他来电者比较。"),
    MenuBaseline => ("Centre on an earlier call of this caller…", "以该来电者的较早通话为基线…"),
    MenuBaselineTip => (
        "Pick the report.json (File › Export, or emotrace analyze --out) of an earlier call of the same caller, analysed with this model. Scores are then heard against that call instead of this call's own mean, so the caller's calls centred on the same baseline can be compared with one another (not with other callers).",
        "选择同一来电者较早一通电话的 report.json（文件 › 导出，或 emotrace analyze --out），且须用本模型分析过。分数随后以该通话为基线，而不是本通话自身的均值；以同一基线居中的该来电者各通电话可以相互比较（不宜与其他来电者比较）。"
    ),
    MenuBaselineNeedsCentring => ("Needs an analysed call and a model that centres its scores on each call (Model › Built-in model, centred on each call).", "需要已分析的通话，以及按每通电话居中的模型（模型 › 内置模型（按每通电话居中））。"),
    MenuBaselineClear => ("Centre on this call itself again (baseline now: {})", "恢复按本通话自身居中（当前基线：{}）"),
    BaselinePathHint => ("report.json of an earlier call", "较早通话的 report.json"),
    BaselineUsePath => ("Use", "使用"),
    BaselineDialogUnavailable => ("No file dialog on this desktop: type the report.json's path in the Model menu.", "此桌面没有文件对话框：请在“模型”菜单中输入 report.json 的路径。"),
    BaselineReading => ("Reading the baseline call's report…", "正在读取基线通话的报告…"),
    BaselineSet => ("Scores are now centred on the earlier call {}.", "分数现已以较早通话 {} 为基线居中。"),
    BaselineFailed => ("Cannot centre on that call:", "无法以该通话为基线："),
    BaselineCleared => ("Scores are centred on each call itself again.", "分数已恢复按每通电话自身居中。"),
    DeviceNotice => ("Device:", "设备："),
    NoGpuFallback => ("no GPU available in this build or machine; running on CPU", "此版本或本机没有可用的 GPU，正在使用 CPU 运行"),
    MenuEdit => ("Edit", "编辑"),
    EditUndo => ("Undo", "撤销"),
    EditRedo => ("Redo", "重做"),
    EditSplit => ("Split at the playhead", "在播放头处拆分"),
    EditSplitHere => ("Split here", "在此处拆分"),
    EditMerge => ("Merge with the next segment", "与下一片段合并"),
    EditDelete => ("Delete segment (not speech / not the caller)", "删除片段（非语音/非来电者）"),
    EditAddHint => ("Add a segment: Shift+drag over unsegmented audio", "添加片段：按住 Shift 在未分段的音频上拖动"),
    EditDragHint => ("Move a start or end: drag the segment's edge", "调整起止：拖动片段边缘"),
    EditRefused => ("Edit not made:", "未能编辑："),
    EditNoSuchSegment => ("no such segment", "没有这个片段"),
    EditTooShort => ("the segment would be shorter than {min} s", "片段将短于 {min} 秒"),
    EditNotInside => ("the time is not inside the segment, at least {min} s from its ends", "该时间不在片段之内（须距两端至少 {min} 秒）"),
    EditNothingToMerge => ("the party has no later segment to merge with", "这一方之后没有可合并的片段"),
    EditAlreadySegmented => ("that audio already belongs to a segment of this party", "这段音频已属于这一方的某个片段"),
    EditNotSaved => ("Edit not saved:", "编辑未保存："),
    EditedMarker => ("Edited segmentation (* = edited segment)", "分段已编辑（* = 编辑过的片段）"),
    EditedSegment => ("edited", "已编辑"),
    Undone => ("Undone:", "已撤销："),
    Redone => ("Redone:", "已重做："),
    NothingToUndo => ("Nothing to undo", "没有可撤销的操作"),
    NothingToRedo => ("Nothing to redo", "没有可重做的操作"),
    ScoringEdited => ("Scoring edited segments …", "正在为编辑后的片段评分…"),
    EditedNeedReanalysis => ("This model centres its scores on the whole call: edited segments keep provisional scores until you analyse the call again.", "此模型按整通电话居中评分：编辑后的片段暂用估计分数，重新分析本通话后才得到准确分数。"),
    EditKeys => ("S: split · M: merge · Delete: delete · Shift+drag: add · drag an edge: move · Ctrl+Z / Ctrl+Shift+Z: undo / redo", "S：拆分 · M：合并 · Delete：删除 · Shift+拖动：添加 · 拖动边缘：调整 · Ctrl+Z / Ctrl+Shift+Z：撤销/重做"),
    DoLabel => ("label", "标注"),
    DoMoveEdge => ("move a boundary", "调整边界"),
    DoSplit => ("split", "拆分"),
    DoMerge => ("merge", "合并"),
    DoDelete => ("delete a segment", "删除片段"),
    DoAdd => ("add a segment", "添加片段"),
    DoNote => ("note", "备注"),
    DoSettle => ("settle a label", "裁定标注"),
    AnnotatorName => ("Annotator", "标注者"),
    AnnotatorPrompt => ("Your name as annotator (saved with each of your labels; change it in Settings):", "请输入您的标注者姓名（随每个标注保存；可在设置中修改）："),
    AnnotatorOk => ("Start labelling", "开始标注"),
    MenuAnnotators => ("Annotators…", "标注者…"),
    AnnotatorsTitle => ("Annotators", "标注者"),
    AnnotatorsList => ("Annotators of this call:", "此通话的标注者："),
    Disagreements => ("Segments where annotators disagree: {}", "标注者意见不一的片段：{} 个"),
    NoDisagreements => ("No disagreements.", "没有分歧。"),
    SettleAs => ("Settle as", "裁定为"),
    SettledAs => ("settled:", "已裁定："),
    MenuNotes => ("Notes…", "备注…"),
    NotesTitle => ("Notes", "备注"),
    CallNote => ("Note on the call", "通话备注"),
    SegmentNote => ("Note on segment {}", "片段 {} 的备注"),
    NoSegmentForNote => ("Play a segment to note on it.", "播放某个片段后可为其添加备注。"),
    SaveNotes => ("Save notes", "保存备注"),
    ShowPoints => ("Segment points", "片段点"),
    ShowTrend => ("Trend line", "趋势线"),
    ShowTrendBand => ("Trend 95% band", "趋势 95% 区间"),
    TrendWindow => ("Trend window (min)", "趋势窗口（分钟）"),
    TrendName => ("Trend", "趋势"),
    TrendBandName => ("95% band", "95% 区间"),
    SortBy => ("Sort", "排序"),
    SortTime => ("time", "时间"),
    SortP => ("p", "p 值"),
    SortAnnotation => ("annotation", "人工标注"),
    FilterAnnotation => ("Annotation", "人工标注"),
    FilterAny => ("any", "全部"),
    FilterUnlabelled => ("unlabelled", "未标注"),
    FilterStage => ("Stage", "阶段"),
    FilterPRange => ("p from", "p 值从"),
    FilterTo => ("to", "到"),
    Descending => ("descending", "降序"),
    ShowSpectrogram => ("Spectrogram lane (around the playhead)", "语谱图（播放位置附近）"),
    SpectrogramCaption => ("Spectrogram 0–4 kHz · dots: the model's pitch feature", "语谱图 0–4 kHz · 圆点：模型的音高特征"),
    SpectrogramComputing => ("Computing the spectrogram…", "正在计算语谱图…"),
    SpectrogramNoAudio => ("No audio yet", "尚无音频"),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_has_both_languages() {
        for &key in Key::ALL {
            let (en, zh) = key.spellings();
            assert!(!en.trim().is_empty(), "{key:?} has no English text");
            assert!(!zh.trim().is_empty(), "{key:?} has no Chinese text");
            // Chinese text is Chinese unless it is a symbol or a metric's acronym.
            let keeps_latin = en == zh
                && (en.chars().count() == 1 || en.chars().all(|c| !c.is_alphabetic()) || en.chars().all(|c| c.is_ascii_uppercase()));
            assert!(en != zh || keeps_latin, "{key:?} is not translated: {zh}");
        }
    }

    #[test]
    fn locale_picks_chinese_for_zh_locales_only() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| pairs.iter().find(|(k, _)| *k == name).map(|(_, v)| v.to_string())
        };
        assert_eq!(Lang::from_locale_vars(env(&[("LANG", "zh_CN.UTF-8")])), Lang::Zh);
        assert_eq!(Lang::from_locale_vars(env(&[("LANG", "en_GB.UTF-8")])), Lang::En);
        assert_eq!(Lang::from_locale_vars(env(&[("LC_ALL", "zh_TW.UTF-8"), ("LANG", "en_US.UTF-8")])), Lang::Zh);
        assert_eq!(Lang::from_locale_vars(env(&[("LC_ALL", ""), ("LANG", "zh_CN")])), Lang::Zh);
        assert_eq!(Lang::from_locale_vars(env(&[])), Lang::En);
    }
}
