/// What an MP4 sample entry needs from an H.264 sequence parameter set (§7.3.2.1.1): profile,
/// level and the picture size after cropping.
struct H264SequenceParameters: Equatable, Sendable {
    var profile: UInt8
    var compatibility: UInt8
    var level: UInt8
    var width: Int
    var height: Int

    enum ParseError: Error, Equatable {
        case truncated
        case unsupported(String)
    }

    /// Parses an SPS NAL unit (with its header byte, emulation prevention bytes still in).
    init(sps unit: ArraySlice<UInt8>) throws(ParseError) {
        let rbsp = AnnexB.rbsp(unit)
        guard rbsp.count >= 4, rbsp[0] & 0x1F == 7 else { throw .truncated }
        profile = rbsp[1]
        compatibility = rbsp[2]
        level = rbsp[3]
        var r = BitReader(Array(rbsp[4...]))
        do {
            _ = try r.ue()  // seq_parameter_set_id
            var chroma: UInt32 = 1
            if [100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135].contains(profile) {
                chroma = try r.ue()
                guard chroma <= 3 else { throw ParseError.unsupported("chroma_format_idc \(chroma)") }
                if chroma == 3 { _ = try r.bits(1) }  // separate_colour_plane_flag
                _ = try r.ue()  // bit_depth_luma_minus8
                _ = try r.ue()  // bit_depth_chroma_minus8
                _ = try r.bits(1)  // qpprime_y_zero_transform_bypass_flag
                if try r.flag() {  // seq_scaling_matrix_present_flag
                    for i in 0..<(chroma == 3 ? 12 : 8) where try r.flag() {
                        try Self.skipScalingList(&r, size: i < 6 ? 16 : 64)
                    }
                }
            }
            _ = try r.ue()  // log2_max_frame_num_minus4
            let pocType = try r.ue()
            if pocType == 0 {
                _ = try r.ue()  // log2_max_pic_order_cnt_lsb_minus4
            } else if pocType == 1 {
                _ = try r.bits(1)  // delta_pic_order_always_zero_flag
                _ = try r.se()  // offset_for_non_ref_pic
                _ = try r.se()  // offset_for_top_to_bottom_field
                let cycle = try r.ue()
                guard cycle <= 255 else { throw ParseError.unsupported("num_ref_frames_in_pic_order_cnt_cycle") }
                for _ in 0..<cycle { _ = try r.se() }
            }
            _ = try r.ue()  // max_num_ref_frames
            _ = try r.bits(1)  // gaps_in_frame_num_value_allowed_flag
            let widthMBs = Int(try r.ue()) + 1
            let heightMapUnits = Int(try r.ue()) + 1
            let frameMBsOnly = try r.flag()
            if !frameMBsOnly { _ = try r.bits(1) }  // mb_adaptive_frame_field_flag
            _ = try r.bits(1)  // direct_8x8_inference_flag
            var crop = (left: 0, right: 0, top: 0, bottom: 0)
            if try r.flag() {
                crop = (Int(try r.ue()), Int(try r.ue()), Int(try r.ue()), Int(try r.ue()))
            }
            let fieldFactor = frameMBsOnly ? 1 : 2
            // Crop units (Table 6-1): chroma subsampling, and fields count twice vertically.
            let unitX = chroma == 0 || chroma == 3 ? 1 : 2
            let unitY = (chroma == 0 || chroma == 3 ? 1 : chroma == 1 ? 2 : 1) * fieldFactor
            width = widthMBs * 16 - (crop.left + crop.right) * unitX
            height = fieldFactor * heightMapUnits * 16 - (crop.top + crop.bottom) * unitY
            guard (1...16384).contains(width), (1...16384).contains(height) else {
                throw ParseError.unsupported("picture size \(width)x\(height)")
            }
        } catch let error as ParseError {
            throw error
        } catch {
            throw .truncated
        }
    }

    private static func skipScalingList(_ r: inout BitReader, size: Int) throws(BitReader.Exhausted) {
        var last: Int32 = 8
        var next: Int32 = 8
        for _ in 0..<size where next != 0 {
            next = (last + (try r.se()) + 256) % 256
            last = next == 0 ? last : next
        }
    }
}
