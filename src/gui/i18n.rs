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
    MenuModelNone => ("No model bundles found in models/ or the data folder", "在 models/ 或数据文件夹中未找到模型包"),
    MenuSettings => ("Settings", "设置"),
    AssessmentMinutes => ("Assessment stage length (min)", "评估阶段时长（分钟）"),
    AssessmentAppliesNext => ("Applies to the open call at once (stage metrics, exports) and to every later analysis.", "立即用于当前通话（阶段指标、导出），并用于之后的每次分析。"),
    Welcome => ("Open a call recording: File › Open…, drop a file on this window, or run `emotrace CALL.wav`.", "打开通话录音：文件 › 打开…，把文件拖到窗口中，或运行 `emotrace CALL.wav`。"),
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
    TrainIntro => ("Trains a new model from the one in use on annotated segments (labels files saved beside the recordings), on this machine; a fifth of the labelled calls' speakers are held out for validation when there are two or more. The new model appears in the Model menu.", "在本机以当前模型为起点，用人工标注的片段（录音旁的标注文件）训练新模型；标注的说话人有两个或以上时，留出五分之一做验证。新模型会出现在“模型”菜单中。"),
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
    DeviceNotice => ("Device:", "设备："),
    NoGpuFallback => ("no GPU available in this build or machine; running on CPU", "此版本或本机没有可用的 GPU，正在使用 CPU 运行"),
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
