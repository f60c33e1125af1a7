import Shard
import Testing

/// XXH64 known answers, computed with the reference implementation (libxxhash 0.8.1, `XXH64`).
/// They double as the stability check: placement breaks across a cluster if these ever change.
@Suite struct StableHashTests {
    @Test func publishedVectors() {
        #expect(StableHash.hash("") == 0xEF46_DB37_51D8_E999)
        #expect(StableHash.hash("a") == 0xD24E_C4F1_A98C_6E5B)
        #expect(StableHash.hash("abc") == 0x44BC_2CF5_AD77_0999)
        #expect(StableHash.hash("Nobody inspects the spammish repetition") == 0xFBCE_A83C_8A37_8BF1)
        #expect(StableHash.hash("", seed: 1) == 0xD5AF_BA13_36A3_BE4B)
        #expect(StableHash.hash("abc", seed: 0x9E37_79B9_7F4A_7C15) == 0x2ED0_F59D_6B43_AC8B)
        #expect(StableHash.hash("group-42") == 0x9F17_8718_21EB_6C65)
        #expect(StableHash.hash("直播") == 0xF4DB_F476_31F0_9278)
        #expect(StableHash.hash("node-7", seed: 3) == 0x623A_9A49_154C_2CD5)
    }

    /// Every length class of the algorithm: under 4, 4–7, 8-byte lanes, the 32-byte stripe loop and
    /// its tails, with seed 0 and a large seed.
    @Test(
        arguments: [
            (0, 0xEF46_DB37_51D8_E999, 0x7FEF_5B0C_3167_77ED),
            (1, 0x1F25_C8D0_BC1F_4BB6, 0x1E2E_A53A_3040_E362),
            (3, 0x31D2_363F_52E5_64C9, 0x05C2_2BC4_B933_47D9),
            (4, 0x9BB6_4B7D_66EE_9FDA, 0x6F43_828B_2DC8_C736),
            (5, 0xC760_8EFD_DB70_51FE, 0xF064_6902_234D_C4C4),
            (7, 0x9A7B_1499_59CE_60D8, 0x8BA3_F8E8_DCFC_9A32),
            (8, 0xDAB9_9D95_C6F9_0092, 0x3118_93BA_9020_DEDF),
            (9, 0x170B_B6BF_975B_4C02, 0xD824_EF45_399C_F229),
            (12, 0xD52E_4078_33AF_5133, 0xE9E5_0700_1465_EEC1),
            (15, 0x1B47_CB82_43CC_8E32, 0x7273_35ED_67F8_8E56),
            (16, 0x4348_5023_2B78_7BE2, 0x57C2_98A3_6C14_9E8E),
            (31, 0xA2AA_5F33_CC4A_6119, 0x2C9E_9C9D_631D_0AAA),
            (32, 0x23C3_C17E_F790_FD97, 0xD1DC_5D84_AEBD_AFB4),
            (33, 0x50A7_CFC7_BA58_8784, 0x4C4D_B23E_1639_1B47),
            (63, 0x5E3E_54B4_31C7_493C, 0xA89A_9124_2F37_EB2D),
            (64, 0x0EB6_4B3E_F6EE_B01F, 0xF5D7_DA99_A823_61FB),
            (65, 0xA383_B724_B2BD_12F1, 0x214D_BE14_E183_2DA7),
            (100, 0xA61F_8D4C_170F_E531, 0x3C69_1E06_B9FC_C7DB),
            (200, 0xA6CB_3C09_BC82_9B24, 0x09BA_A399_B951_B607),
        ] as [(Int, UInt64, UInt64)]
    )
    func lengths(length: Int, seedZero: UInt64, bigSeed: UInt64) {
        let bytes = (0..<length).map { UInt8(truncatingIfNeeded: $0 * 7 + 3) }
        #expect(StableHash.hash(bytes: bytes) == seedZero)
        #expect(StableHash.hash(bytes: bytes, seed: 0x1234_5678_9ABC_DEF0) == bigSeed)
        // Unaligned input must give the same answer: lanes are loaded byte-wise little-endian.
        let shifted = [0xFF] + bytes
        #expect(StableHash.hash(bytes: shifted.dropFirst()) == seedZero)
    }

    @Test func stringAndBytesAgree() {
        for text in ["", "x", "group-123456789", String(repeating: "é", count: 40)] {
            #expect(StableHash.hash(text) == StableHash.hash(bytes: Array(text.utf8)))
        }
    }
}
