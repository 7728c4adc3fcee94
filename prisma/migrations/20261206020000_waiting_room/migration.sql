-- AlterTable
ALTER TABLE "items" ADD COLUMN     "admission" JSONB;
