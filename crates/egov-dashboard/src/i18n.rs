//! The pages' words in Vietnamese (the default) and English. Every text a page
//! shows is a [`Text`], so a missing translation does not compile.

pub use egov_model::format::Lang;

/// A page's words in the reader's language.
pub trait Translate {
    fn t(self, text: Text) -> &'static str;
}

impl Translate for Lang {
    fn t(self, text: Text) -> &'static str {
        let (vi, en) = text.words();
        match self {
            Lang::Vi => vi,
            Lang::En => en,
        }
    }
}

/// Every text of the pages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Text {
    Title,
    Overview,
    Scorecard,
    Unit,
    Pipeline,
    Period,
    From,
    To,
    Show,
    Province,
    District,
    Commune,
    DistrictAndCommune,
    Total,
    Level,
    Documents,
    Incoming,
    Outgoing,
    OutgoingSigned,
    SignedRate,
    Dossiers,
    Received,
    CarriedOver,
    InPeriod,
    Due,
    ResolvedEarly,
    ResolvedOnTime,
    ResolvedLate,
    PendingInTime,
    PendingOverdue,
    OnTimeRate,
    Online,
    OnlineShare,
    MonthlyTrend,
    Month,
    LateDossiers,
    LateShown,
    Dossier,
    Procedure,
    ReceivedOn,
    DueOn,
    ResolvedOn,
    StillOpen,
    WorkingDaysLate,
    NoLateDossiers,
    LateOrder,
    WorkingDaysNote,
    EventsPerMinute,
    LastHour,
    ConsumerLag,
    DeadLetters,
    LastInsert,
    LatestEventIngested,
    Never,
    Unknown,
    Service,
    Topic,
    Messages,
    System,
    DocumentsSystem,
    OnestopSystem,
    Name,
    Code,
    Rank,
    Flags,
    Silent,
    LastEvent,
    All,
    Filter,
    DownloadCsv,
    DownloadXlsx,
    FlagSigning,
    FlagOnTime,
    Units,
    Error,
    PeriodNote,
    ChooseUnit,
    Minute,
}

impl Text {
    /// (Vietnamese, English).
    fn words(self) -> (&'static str, &'static str) {
        use Text::*;
        match self {
            Title => (
                "Chuyển đổi số tỉnh Vĩnh Phúc",
                "Vĩnh Phúc digital transformation",
            ),
            Overview => ("Tổng quan", "Overview"),
            Scorecard => ("Bảng đánh giá đơn vị", "Scorecard"),
            Unit => ("Đơn vị", "Unit"),
            Pipeline => ("Luồng dữ liệu", "Pipeline"),
            Period => ("Kỳ báo cáo", "Period"),
            From => ("Từ ngày", "From"),
            To => ("Đến ngày", "To"),
            Show => ("Xem", "Show"),
            Province => ("Cấp tỉnh", "Province"),
            District => ("Cấp huyện", "District"),
            Commune => ("Cấp xã", "Commune"),
            DistrictAndCommune => ("Cấp huyện + cấp xã", "District + commune"),
            Total => ("Tổng", "Total"),
            Level => ("Cấp", "Level"),
            Documents => ("Văn bản", "Documents"),
            Incoming => ("Văn bản đến", "Incoming"),
            Outgoing => ("Văn bản đi", "Outgoing"),
            OutgoingSigned => ("Văn bản đi có ký số", "Outgoing, signed"),
            SignedRate => ("Tỷ lệ ký số", "Signing rate"),
            Dossiers => ("Hồ sơ một cửa", "One-stop dossiers"),
            Received => ("Tiếp nhận mới", "Received"),
            CarriedOver => ("Kỳ trước chuyển qua", "Carried over"),
            InPeriod => ("Lũy kế trong kỳ", "In period"),
            Due => ("Đến hạn", "Due"),
            ResolvedEarly => ("Giải quyết trước hạn", "Resolved early"),
            ResolvedOnTime => ("Giải quyết đúng hạn", "Resolved on time"),
            ResolvedLate => ("Giải quyết quá hạn", "Resolved late"),
            PendingInTime => ("Đang giải quyết trong hạn", "Pending, in time"),
            PendingOverdue => ("Đang giải quyết quá hạn", "Pending, overdue"),
            OnTimeRate => ("Tỷ lệ đúng hạn", "On-time rate"),
            Online => ("Trực tuyến", "Online"),
            OnlineShare => ("Tỷ lệ trực tuyến", "Online share"),
            MonthlyTrend => ("Diễn biến theo tháng", "Monthly trend"),
            Month => ("Tháng", "Month"),
            LateDossiers => ("Hồ sơ trễ hạn", "Late dossiers"),
            LateShown => ("hiển thị", "shown"),
            Dossier => ("Mã hồ sơ", "Dossier"),
            Procedure => ("Thủ tục", "Procedure"),
            ReceivedOn => ("Ngày tiếp nhận", "Received"),
            DueOn => ("Hạn trả kết quả", "Due"),
            ResolvedOn => ("Ngày có kết quả", "Resolved"),
            StillOpen => ("Chưa giải quyết", "Still open"),
            WorkingDaysLate => ("Số ngày làm việc trễ", "Working days late"),
            NoLateDossiers => ("Không có hồ sơ trễ hạn.", "No late dossiers."),
            LateOrder => (
                "Xếp theo số ngày làm việc trễ, nhiều nhất trước; hiển thị tối đa",
                "Most working days late first; at most",
            ),
            WorkingDaysNote => (
                "Ngày làm việc: thứ Hai đến thứ Sáu, trừ ngày nghỉ lễ, sau hạn trả kết quả đến ngày có kết quả (hồ sơ chưa giải quyết: đến ngày cuối kỳ).",
                "Working days: Monday to Friday except public holidays, after the due date up to the resolution (an open dossier: up to the period's last day).",
            ),
            EventsPerMinute => ("Sự kiện mỗi phút", "Events per minute"),
            LastHour => ("60 phút gần nhất", "last 60 minutes"),
            ConsumerLag => ("Độ trễ xử lý (Kafka)", "Consumer lag (Kafka)"),
            DeadLetters => ("Sự kiện lỗi (dead letters)", "Dead letters"),
            LastInsert => ("Lần ghi ClickHouse gần nhất", "Last ClickHouse insert"),
            LatestEventIngested => ("Sự kiện nhận gần nhất", "Latest event ingested"),
            Never => ("chưa có", "never"),
            Unknown => ("không rõ", "unknown"),
            Service => ("Dịch vụ", "Service"),
            Topic => ("Chủ đề", "Topic"),
            Messages => ("Số thông điệp", "Messages"),
            System => ("Hệ thống", "System"),
            DocumentsSystem => ("Quản lý văn bản", "Document management"),
            OnestopSystem => ("Một cửa", "One-stop"),
            Name => ("Tên đơn vị", "Name"),
            Code => ("Mã", "Code"),
            Rank => ("Hạng", "Rank"),
            Flags => ("Cảnh báo", "Flags"),
            Silent => ("Ngừng gửi dữ liệu", "Silent"),
            LastEvent => ("Sự kiện cuối", "Last event"),
            All => ("Tất cả", "All"),
            Filter => ("Lọc", "Filter"),
            DownloadCsv => ("Tải CSV", "Download CSV"),
            DownloadXlsx => ("Tải Excel (XLSX)", "Download Excel (XLSX)"),
            FlagSigning => ("Tỷ lệ ký số thấp", "Low signing rate"),
            FlagOnTime => ("Tỷ lệ đúng hạn thấp", "Low on-time rate"),
            Units => ("đơn vị", "units"),
            Error => ("Lỗi", "Error"),
            PeriodNote => (
                "Ngày theo giờ Việt Nam (UTC+7), tính cả hai đầu; số liệu theo mục 5 của hợp đồng dữ liệu.",
                "Local dates in Vietnam (UTC+7), both included; figures as defined in contract section 5.",
            ),
            ChooseUnit => ("Chọn đơn vị", "Choose a unit"),
            Minute => ("Phút", "Minute"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vietnamese_is_the_default() {
        assert_eq!(Lang::parse(None), Lang::Vi);
        assert_eq!(Lang::parse(Some("fr")), Lang::Vi);
        assert_eq!(Lang::parse(Some("en")), Lang::En);
        assert_eq!(Lang::default().t(Text::Overview), "Tổng quan");
        assert_eq!(Lang::En.t(Text::Overview), "Overview");
    }
}
