//! Administrative procedures the scenarios use: plausible codes in the style
//! of the national database of administrative procedures (`1.00xxxx`,
//! `2.00xxxx`), a field code, the legal processing time in working days and
//! the online service level. The codes look like real ones but are not
//! checked against the national database.

/// Who receives the procedure's dossiers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tier {
    /// The provincial Public Administration Service Center.
    Center,
    District,
    Commune,
}

#[derive(Debug, Clone, Copy)]
pub struct Procedure {
    pub code: &'static str,
    pub field: &'static str,
    pub name: &'static str,
    pub tier: Tier,
    /// Processing time in working days (0: the same day).
    pub days: u16,
    /// Online service level: 2 (information only), 3 or 4.
    pub service_level: u8,
    /// Relative frequency within its tier.
    pub weight: f64,
    /// Share of applicants that are businesses, and organisations.
    pub business: f64,
    pub organization: f64,
}

#[allow(clippy::too_many_arguments)]
const fn p(
    code: &'static str,
    field: &'static str,
    name: &'static str,
    tier: Tier,
    days: u16,
    service_level: u8,
    weight: f64,
    business: f64,
    organization: f64,
) -> Procedure {
    Procedure {
        code,
        field,
        name,
        tier,
        days,
        service_level,
        weight,
        business,
        organization,
    }
}

use Tier::{Center, Commune, District};

#[rustfmt::skip]
pub const PROCEDURES: &[Procedure] = &[
    // Commune People's Committees.
    p("2.000815", "CHUNG_THUC", "Chứng thực bản sao từ bản chính", Commune, 0, 2, 26.0, 0.02, 0.01),
    p("2.000884", "CHUNG_THUC", "Chứng thực chữ ký", Commune, 0, 2, 9.0, 0.03, 0.01),
    p("1.001193", "HO_TICH", "Đăng ký khai sinh", Commune, 0, 4, 11.0, 0.0, 0.0),
    p("1.000656", "HO_TICH", "Đăng ký khai tử", Commune, 0, 4, 3.0, 0.0, 0.0),
    p("1.000894", "HO_TICH", "Đăng ký kết hôn", Commune, 3, 3, 4.0, 0.0, 0.0),
    p("1.004873", "HO_TICH", "Cấp giấy xác nhận tình trạng hôn nhân", Commune, 3, 4, 7.0, 0.0, 0.0),
    p("1.001022", "HO_TICH", "Cấp bản sao trích lục hộ tịch", Commune, 0, 4, 5.0, 0.0, 0.0),
    p("1.004859", "HO_TICH", "Đăng ký thay đổi, cải chính hộ tịch", Commune, 3, 3, 2.0, 0.0, 0.0),
    p("2.001009", "CHUNG_THUC", "Chứng thực hợp đồng, giao dịch về đất đai, nhà ở", Commune, 2, 2, 7.0, 0.05, 0.01),
    p("1.003596", "DAT_DAI", "Hòa giải tranh chấp đất đai", Commune, 30, 2, 1.0, 0.0, 0.0),
    p("1.001776", "BAO_TRO_XA_HOI", "Trợ cấp xã hội hằng tháng", Commune, 7, 2, 2.5, 0.0, 0.0),
    p("1.004946", "HO_TICH", "Đăng ký giám hộ", Commune, 3, 3, 1.0, 0.0, 0.0),
    p("1.003005", "NGUOI_CO_CONG", "Hỗ trợ mai táng phí người có công", Commune, 5, 2, 2.0, 0.0, 0.0),
    p("2.000355", "LAO_DONG_TBXH", "Xác nhận hộ nghèo, hộ cận nghèo", Commune, 5, 2, 2.5, 0.0, 0.0),
    p("2.001157", "VAN_HOA", "Đăng ký tổ chức lễ hội", Commune, 10, 2, 0.5, 0.1, 0.6),
    p("1.008004", "NONG_NGHIEP", "Hỗ trợ khôi phục sản xuất nông nghiệp", Commune, 5, 2, 1.5, 0.1, 0.05),
    p("1.006391", "XAY_DUNG", "Xác nhận hiện trạng nhà ở, công trình", Commune, 5, 3, 1.5, 0.05, 0.0),
    // District People's Committees.
    p("1.004227", "KINH_DOANH", "Đăng ký thành lập hộ kinh doanh", District, 3, 4, 12.0, 0.9, 0.0),
    p("1.001266", "KINH_DOANH", "Đăng ký thay đổi nội dung đăng ký hộ kinh doanh", District, 3, 4, 7.0, 0.9, 0.0),
    p("2.000889", "DAT_DAI", "Đăng ký biến động quyền sử dụng đất (chuyển nhượng, tặng cho, thừa kế)", District, 10, 3, 18.0, 0.05, 0.0),
    p("1.004203", "DAT_DAI", "Cấp giấy chứng nhận quyền sử dụng đất lần đầu", District, 30, 3, 6.0, 0.02, 0.0),
    p("1.005398", "DAT_DAI", "Cấp đổi, cấp lại giấy chứng nhận quyền sử dụng đất", District, 7, 3, 6.0, 0.0, 0.0),
    p("1.009994", "XAY_DUNG", "Cấp giấy phép xây dựng nhà ở riêng lẻ", District, 15, 3, 8.0, 0.05, 0.0),
    p("2.000908", "CHUNG_THUC", "Chứng thực bản sao từ bản chính giấy tờ nước ngoài", District, 0, 2, 9.0, 0.05, 0.02),
    p("2.000528", "HO_TICH", "Đăng ký kết hôn có yếu tố nước ngoài", District, 15, 3, 1.0, 0.0, 0.0),
    p("1.001699", "BAO_TRO_XA_HOI", "Trợ giúp xã hội khẩn cấp", District, 7, 2, 5.0, 0.0, 0.0),
    p("1.002407", "Y_TE", "Cấp giấy chứng nhận cơ sở đủ điều kiện an toàn thực phẩm", District, 15, 3, 2.0, 0.8, 0.05),
    p("2.001261", "CONG_THUONG", "Cấp giấy phép bán lẻ rượu, sản phẩm thuốc lá", District, 10, 3, 3.0, 0.9, 0.0),
    p("1.001050", "NGUOI_CO_CONG", "Giải quyết chế độ người có công", District, 12, 2, 3.0, 0.0, 0.0),
    p("1.004441", "GIAO_DUC", "Cho phép nhóm trẻ, lớp mẫu giáo độc lập hoạt động", District, 20, 2, 0.6, 0.1, 0.8),
    p("1.003921", "MOI_TRUONG", "Xác nhận kế hoạch bảo vệ môi trường", District, 10, 3, 1.5, 0.7, 0.1),
    p("1.000954", "NOI_VU", "Công nhận ban vận động thành lập hội", District, 10, 2, 1.0, 0.0, 0.9),
    // Provincial Public Administration Service Center (on behalf of the agencies).
    p("2.000046", "DANG_KY_DOANH_NGHIEP", "Đăng ký thành lập công ty trách nhiệm hữu hạn", Center, 3, 4, 14.0, 1.0, 0.0),
    p("2.001610", "DANG_KY_DOANH_NGHIEP", "Đăng ký thay đổi nội dung đăng ký doanh nghiệp", Center, 3, 4, 12.0, 1.0, 0.0),
    p("1.002804", "GIAO_THONG", "Đổi giấy phép lái xe do ngành giao thông vận tải cấp", Center, 5, 4, 12.0, 0.0, 0.0),
    p("2.001039", "TU_PHAP", "Cấp phiếu lý lịch tư pháp", Center, 10, 4, 9.0, 0.0, 0.0),
    p("1.004482", "LAO_DONG_TBXH", "Cấp giấy phép lao động cho người lao động nước ngoài", Center, 5, 4, 8.0, 1.0, 0.0),
    p("2.000302", "GIAO_THONG", "Cấp phù hiệu xe kinh doanh vận tải", Center, 2, 4, 6.0, 1.0, 0.0),
    p("2.000954", "GIAO_THONG", "Cấp giấy phép kinh doanh vận tải bằng xe ô tô", Center, 5, 4, 3.0, 1.0, 0.0),
    p("1.001765", "DAT_DAI", "Cấp giấy chứng nhận quyền sử dụng đất cho tổ chức", Center, 30, 3, 5.0, 0.6, 0.4),
    p("1.003010", "DAT_DAI", "Đăng ký biến động đất đai của tổ chức", Center, 15, 3, 6.0, 0.8, 0.2),
    p("1.009974", "XAY_DUNG", "Cấp giấy phép xây dựng công trình", Center, 20, 3, 4.0, 0.9, 0.1),
    p("1.001436", "Y_TE", "Cấp chứng chỉ hành nghề khám bệnh, chữa bệnh", Center, 30, 3, 2.5, 0.0, 0.0),
    p("1.004613", "Y_TE", "Cấp giấy chứng nhận đủ điều kiện kinh doanh dược", Center, 20, 3, 2.0, 0.8, 0.0),
    p("1.009645", "DAU_TU", "Chấp thuận chủ trương đầu tư", Center, 35, 2, 1.5, 1.0, 0.0),
    p("1.000058", "MOI_TRUONG", "Thẩm định báo cáo đánh giá tác động môi trường", Center, 45, 2, 1.0, 1.0, 0.0),
    p("1.003125", "NGUOI_CO_CONG", "Giải quyết chế độ trợ cấp người có công", Center, 12, 2, 3.0, 0.0, 0.0),
    p("1.005092", "GIAO_DUC", "Công nhận văn bằng do cơ sở nước ngoài cấp", Center, 15, 3, 1.5, 0.0, 0.0),
    p("2.001824", "KHOA_HOC_CONG_NGHE", "Cấp giấy chứng nhận đăng ký hoạt động khoa học và công nghệ", Center, 15, 3, 0.8, 0.3, 0.6),
    p("1.003358", "NONG_NGHIEP", "Cấp giấy chứng nhận đủ điều kiện an toàn thực phẩm nông lâm thủy sản", Center, 15, 3, 1.2, 0.8, 0.0),
    p("2.000794", "VAN_HOA", "Cấp giấy phép tổ chức biểu diễn nghệ thuật", Center, 10, 3, 1.0, 0.7, 0.2),
    p("1.008346", "XAY_DUNG", "Cấp chứng chỉ hành nghề hoạt động xây dựng", Center, 25, 3, 1.5, 0.0, 0.0),
];

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn codes_are_unique_and_plausible() {
        let mut seen = HashSet::new();
        for p in PROCEDURES {
            assert!(seen.insert(p.code), "{} twice", p.code);
            let (prefix, number) = p.code.split_at(2);
            assert!(prefix == "1." || prefix == "2.", "{}", p.code);
            assert!(number.len() == 6 && number.bytes().all(|b| b.is_ascii_digit()));
            assert!((2..=4).contains(&p.service_level));
            assert!(p.business + p.organization <= 1.0);
        }
        assert!(PROCEDURES.len() >= 40);
    }
}
