import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.security.*;
import java.security.spec.*;
import java.util.Arrays;
import java.util.HexFormat;
import javax.crypto.*;
import javax.crypto.spec.*;

/**
 * OpenJDK's SunPKCS11 provider on a PKCS#11 module, with the config a user writes first (name and
 * library only). Every result is checked against the JDK's own providers (SunRsaSign, SunEC,
 * SunJCE). Prints one line per case: "PASS name", "FAIL name: why" or "UNSUPPORTED name: why"
 * (the provider offers no such algorithm on this token). The user PIN comes on standard input.
 * What each case made (public keys, signatures, ciphertexts, the ECDH secret) goes into
 * OUTPUT_DIR as files named after the case, for the test to check with openssl.
 *
 * Usage: java TokenClient CONFIG_FILE OUTPUT_DIR < pin
 */
public class TokenClient {
    static Provider token;
    static java.nio.file.Path output;
    static final byte[] MESSAGE = "CertBridge's software token, through SunPKCS11.".getBytes();
    static final SecureRandom RANDOM = new SecureRandom();

    interface Case { void run() throws Exception; }

    static void check(String name, Case c) {
        try {
            c.run();
            System.out.println("PASS " + name);
        } catch (NoSuchAlgorithmException | NoSuchPaddingException e) {
            System.out.println("UNSUPPORTED " + name + ": " + e.getMessage());
        } catch (Throwable e) {
            System.out.println("FAIL " + name + ": " + e);
        }
    }

    static void require(boolean ok, String what) { if (!ok) throw new AssertionError(what); }

    static byte[] random(int n) { byte[] b = new byte[n]; RANDOM.nextBytes(b); return b; }

    /** Leaves `data` in OUTPUT_DIR as `name`, for openssl. */
    static void save(String name, byte[] data) throws Exception {
        java.nio.file.Files.write(output.resolve(name), data);
    }

    /** Signs on the token with a token-made key; the JDK's default provider verifies. */
    static void signature(String keyAlgorithm, AlgorithmParameterSpec keySpec, String algorithm, AlgorithmParameterSpec params)
            throws Exception {
        save("message.bin", MESSAGE);
        KeyPairGenerator generator = KeyPairGenerator.getInstance(keyAlgorithm, token);
        if (keySpec != null) generator.initialize(keySpec); else generator.initialize(2048);
        KeyPair pair = generator.generateKeyPair();
        require(pair.getPrivate().getClass().getName().contains("P11"), "the private key is not the token's");
        Signature signer = Signature.getInstance(algorithm, token);
        if (params != null) signer.setParameter(params);
        signer.initSign(pair.getPrivate());
        // In two parts: C_SignUpdate twice, then C_SignFinal.
        signer.update(MESSAGE, 0, 10);
        signer.update(MESSAGE, 10, MESSAGE.length - 10);
        byte[] sig = signer.sign();
        PublicKey exported = KeyFactory.getInstance(keyAlgorithm.equals("RSA") ? "RSA" : keyAlgorithm)
                .generatePublic(new X509EncodedKeySpec(pair.getPublic().getEncoded()));
        Signature verifier = Signature.getInstance(algorithm);
        require(!verifier.getProvider().getName().startsWith("SunPKCS11"), "default verifier is the token");
        if (params != null) verifier.setParameter(params);
        verifier.initVerify(exported);
        verifier.update(MESSAGE);
        require(verifier.verify(sig), algorithm + " signature does not verify with " + verifier.getProvider().getName());
        verifier.initVerify(exported);
        verifier.update("another message".getBytes());
        require(!verifier.verify(sig), "a changed message verifies");
        // And the token verifies its own signature.
        Signature tokenVerifier = Signature.getInstance(algorithm, token);
        if (params != null) tokenVerifier.setParameter(params);
        tokenVerifier.initVerify(pair.getPublic());
        tokenVerifier.update(MESSAGE);
        require(tokenVerifier.verify(sig), "the token rejects its own signature");
        save(algorithm + ".pub.der", exported.getEncoded());
        save(algorithm + ".sig", sig);
    }

    /** RSA encryption both ways: the token encrypts for the JDK, the JDK for the token. */
    static void rsaCipher(String transformation) throws Exception {
        KeyPairGenerator generator = KeyPairGenerator.getInstance("RSA");
        generator.initialize(2048);
        KeyPair pair = generator.generateKeyPair();
        byte[] secret = random(32);
        Cipher onToken = Cipher.getInstance(transformation, token);
        onToken.init(Cipher.ENCRYPT_MODE, pair.getPublic());
        byte[] sealed = onToken.doFinal(secret);
        Cipher jdk = Cipher.getInstance(transformation);
        require(!jdk.getProvider().getName().startsWith("SunPKCS11"), "default cipher is the token");
        jdk.init(Cipher.DECRYPT_MODE, pair.getPrivate());
        require(Arrays.equals(jdk.doFinal(sealed), secret), "the JDK does not open the token's ciphertext");
        jdk.init(Cipher.ENCRYPT_MODE, pair.getPublic());
        byte[] fromJDK = jdk.doFinal(secret);
        onToken.init(Cipher.DECRYPT_MODE, pair.getPrivate());
        require(Arrays.equals(onToken.doFinal(fromJDK), secret), "the token does not open the JDK's ciphertext");
        save(transformation.replace('/', '_') + ".key.der", pair.getPrivate().getEncoded());
        save(transformation.replace('/', '_') + ".sealed", sealed);
        save(transformation.replace('/', '_') + ".plain", secret);
    }

    /** AES on the token gives SunJCE's ciphertext for the same key, IV and input, and opens it. */
    static void aesCipher(String transformation, boolean gcm) throws Exception {
        SecretKeySpec key = new SecretKeySpec(random(32), "AES");
        byte[] iv = random(gcm ? 12 : 16);
        AlgorithmParameterSpec params = gcm ? new GCMParameterSpec(128, iv) : new IvParameterSpec(iv);
        byte[] plain = random(1000 + RANDOM.nextInt(50));
        Cipher onToken = Cipher.getInstance(transformation, token);
        onToken.init(Cipher.ENCRYPT_MODE, key, params);
        if (gcm) onToken.updateAAD("header".getBytes());
        // CBC in two parts (C_EncryptUpdate, C_EncryptFinal). GCM in one: OpenJDK 17's
        // P11AEADCipher hands C_Encrypt only the part given to update(), not the rest.
        byte[] sealed = gcm ? onToken.doFinal(plain) : concat(onToken.update(plain, 0, 100), onToken.doFinal(plain, 100, plain.length - 100));
        Cipher jdk = Cipher.getInstance(transformation, "SunJCE");
        jdk.init(Cipher.ENCRYPT_MODE, key, params);
        if (gcm) jdk.updateAAD("header".getBytes());
        require(Arrays.equals(jdk.doFinal(plain), sealed), transformation + " ciphertext differs from SunJCE's");
        String file = transformation.replace('/', '_');
        save(file + ".key", key.getEncoded());
        save(file + ".iv", iv);
        save(file + ".plain", plain);
        save(file + ".sealed", sealed);
        onToken.init(Cipher.DECRYPT_MODE, key, params);
        if (gcm) onToken.updateAAD("header".getBytes());
        require(Arrays.equals(onToken.doFinal(sealed), plain), "the token does not decrypt its ciphertext");
        if (gcm) {
            sealed[sealed.length - 1] ^= 1;
            onToken.init(Cipher.DECRYPT_MODE, key, params);
            onToken.updateAAD("header".getBytes());
            try {
                onToken.doFinal(sealed);
                throw new AssertionError("a changed GCM tag decrypts");
            } catch (AEADBadTagException expected) {
            }
        }
    }

    static byte[] concat(byte[] a, byte[] b) {
        a = a == null ? new byte[0] : a;
        byte[] out = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }

    public static void main(String[] args) throws Exception {
        token = Security.getProvider("SunPKCS11").configure(args[0]);
        output = java.nio.file.Paths.get(args[1]);
        Security.addProvider(token);
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in));
        char[] pin = in.readLine().toCharArray();
        KeyStore store = KeyStore.getInstance("PKCS11", token);
        store.load(null, pin);
        Arrays.fill(pin, '\0');
        System.out.println("PROVIDER " + token.getName());

        check("Signature SHA256withRSA", () -> signature("RSA", null, "SHA256withRSA", null));
        check("Signature RSASSA-PSS", () -> signature("RSA", null, "RSASSA-PSS",
                new PSSParameterSpec("SHA-256", "MGF1", MGF1ParameterSpec.SHA256, 32, 1)));
        check("Signature SHA256withECDSA", () -> signature("EC", new ECGenParameterSpec("secp256r1"), "SHA256withECDSA", null));
        check("Signature Ed25519", () -> signature("Ed25519", null, "Ed25519", null));
        check("Cipher RSA/ECB/PKCS1Padding", () -> rsaCipher("RSA/ECB/PKCS1Padding"));
        check("Cipher RSA/ECB/OAEPWithSHA-256AndMGF1Padding", () -> rsaCipher("RSA/ECB/OAEPWithSHA-256AndMGF1Padding"));
        check("Cipher AES/GCM/NoPadding", () -> aesCipher("AES/GCM/NoPadding", true));
        check("Cipher AES/CBC/PKCS5Padding", () -> aesCipher("AES/CBC/PKCS5Padding", false));
        check("KeyAgreement ECDH", () -> {
            KeyPairGenerator generator = KeyPairGenerator.getInstance("EC", token);
            generator.initialize(new ECGenParameterSpec("secp256r1"));
            KeyPair ours = generator.generateKeyPair();
            KeyPairGenerator jdkGenerator = KeyPairGenerator.getInstance("EC", "SunEC");
            jdkGenerator.initialize(new ECGenParameterSpec("secp256r1"));
            KeyPair theirs = jdkGenerator.generateKeyPair();
            KeyAgreement onToken = KeyAgreement.getInstance("ECDH", token);
            onToken.init(ours.getPrivate());
            onToken.doPhase(theirs.getPublic(), true);
            byte[] shared = onToken.generateSecret();
            KeyAgreement jdk = KeyAgreement.getInstance("ECDH", "SunEC");
            jdk.init(theirs.getPrivate());
            PublicKey oursExported = KeyFactory.getInstance("EC").generatePublic(new X509EncodedKeySpec(ours.getPublic().getEncoded()));
            jdk.doPhase(oursExported, true);
            require(Arrays.equals(jdk.generateSecret(), shared), "the shared secret differs from SunEC's");
            // For openssl pkeyutl -derive: the JDK's private key and the token's public key.
            save("ECDH.peer.der", theirs.getPrivate().getEncoded());
            save("ECDH.token.pub.der", oursExported.getEncoded());
            save("ECDH.secret", shared);
        });
        check("KeyGenerator AES", () -> {
            KeyGenerator generator = KeyGenerator.getInstance("AES", token);
            generator.init(256);
            SecretKey key = generator.generateKey();
            require(key.getClass().getName().contains("P11"), "the key is not the token's");
            byte[] iv = random(12), plain = random(64);
            Cipher cipher = Cipher.getInstance("AES/GCM/NoPadding", token);
            cipher.init(Cipher.ENCRYPT_MODE, key, new GCMParameterSpec(128, iv));
            byte[] sealed = cipher.doFinal(plain);
            require(sealed.length == plain.length + 16, "GCM output length");
            cipher.init(Cipher.DECRYPT_MODE, key, new GCMParameterSpec(128, iv));
            require(Arrays.equals(cipher.doFinal(sealed), plain), "the generated key does not decrypt what it encrypted");
            byte[] value = key.getEncoded();
            if (value != null) {
                Cipher jdk = Cipher.getInstance("AES/GCM/NoPadding", "SunJCE");
                jdk.init(Cipher.DECRYPT_MODE, new SecretKeySpec(value, "AES"), new GCMParameterSpec(128, iv));
                require(Arrays.equals(jdk.doFinal(sealed), plain), "SunJCE does not decrypt with the exported key");
            }
        });
        check("Mac HmacSHA256", () -> {
            SecretKeySpec key = new SecretKeySpec(random(32), "HmacSHA256");
            Mac onToken = Mac.getInstance("HmacSHA256", token);
            onToken.init(key);
            onToken.update(MESSAGE, 0, 7);
            onToken.update(MESSAGE, 7, MESSAGE.length - 7);
            Mac jdk = Mac.getInstance("HmacSHA256", "SunJCE");
            jdk.init(key);
            byte[] expected = jdk.doFinal(MESSAGE);
            byte[] got = onToken.doFinal();
            require(Arrays.equals(expected, got), "HMAC differs from SunJCE's: " + HexFormat.of().formatHex(got));
            save("HmacSHA256.key", key.getEncoded());
            save("HmacSHA256.mac", got);
        });
    }
}
